"""graders.cronjobs: a CronJob starts a Job by its schedule, by itself, and the Job succeeds."""

from __future__ import annotations

from typing import Any

import pytest

from graders import cronjobs
from tests.fakes import FakeKube


def cronjob(suspend: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "report", "namespace": "default", "uid": "cj-1"},
        "spec": {"schedule": "* * * * *", "suspend": suspend},
    }


OWNER = ["cj-1"]  # the CronJob's UID as the fake API server gave it


def job(name: str, succeeded: int = 0, manual: bool = False, owner: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "ownerReferences": [{"kind": "CronJob", "name": "report", "uid": owner or OWNER[0], "controller": True}],
    }
    if manual:
        meta["annotations"] = {cronjobs.MANUAL: "manual"}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "status": {"succeeded": succeeded}}


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    fake = FakeKube({"CronJob", "Job"})
    fake.create(cronjob())
    OWNER[0] = fake.get("batch/v1", "CronJob", "report", "default")["metadata"]["uid"]  # type: ignore[index]
    fake.create(job("report-100", succeeded=1))  # ran before the check: does not count
    clock = [0.0]
    monkeypatch.setattr(cronjobs.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cronjobs.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    return fake


def test_a_new_scheduled_job_that_succeeds_passes(kube: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [0]
    real_list = kube.list

    def listing(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        calls[0] += 1
        if calls[0] == 3:  # the next minute: the controller starts a Job, which completes
            kube.create(job("report-101", succeeded=1))
        return real_list(*args, **kwargs)

    monkeypatch.setattr(kube, "list", listing)
    result = cronjobs.schedules(kube, "report")
    assert result.ok and "report-101" in result.message


def test_a_suspended_cronjob_fails_at_once(kube: FakeKube) -> None:
    kube.patch("batch/v1", "CronJob", "report", "default", {"spec": {"suspend": True}})
    result = cronjobs.schedules(kube, "report")
    assert not result.ok and "suspended" in result.message


def test_jobs_made_by_hand_or_for_another_cronjob_or_that_fail_do_not_count(kube: FakeKube) -> None:
    kube.create(job("report-manual", succeeded=1, manual=True))
    kube.create(job("other-1", succeeded=1, owner="cj-2"))
    nothing = cronjobs.schedules(kube, "report", wait_for=30)
    assert not nothing.ok and "started no Job" in nothing.message
    kube.create(job("report-102", succeeded=0))
    failing = cronjobs.schedules(kube, "report", wait_for=30)
    assert not failing.ok and "started no Job" in failing.message  # it existed before this check began


def test_a_missing_cronjob_fails(kube: FakeKube) -> None:
    kube.delete("batch/v1", "CronJob", "report", "default")
    assert "does not exist" in cronjobs.schedules(kube, "report").message
