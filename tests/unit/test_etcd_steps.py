"""graders.etcd and breakers.etcd: alarms and quota read through etcd's gateway, writes tried, alarms cleared."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from breakers import etcd as breaker
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders import etcd
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

GATEWAY = r"^curl -sS --max-time 10 --cacert /etc/kubernetes/pki/etcd/ca\.crt .* -X POST https://127\.0\.0\.1:2379"


def node(path: str, answer: dict[str, Any] | str, rc: int = 0) -> Node:
    t = FakeTransport()
    stdout = answer if isinstance(answer, str) else json.dumps(answer)
    t.expect(GATEWAY + path + " -d .*", rc=rc, stdout=stdout, stderr="curl: (7) Failed to connect" if rc else "")
    return Node("cp1", "control-plane", t)


def test_alarms_are_read_from_the_gateway() -> None:
    assert etcd.no_alarms(node("/v3/maintenance/alarm", {"header": {}})).ok
    raised = {"alarms": [{"memberID": "1079", "alarm": "NOSPACE"}]}
    result = etcd.no_alarms(node("/v3/maintenance/alarm", raised))
    assert result.status == "fail" and "NOSPACE" not in result.message  # the kind would name the fault
    assert etcd.no_alarms(node("/v3/maintenance/alarm", "", rc=7)).status == "error"
    assert etcd.no_alarms(node("/v3/maintenance/alarm", "<html>")).status == "error"


@pytest.mark.parametrize(
    ("quota", "status"),
    [("2147483648", "pass"), ("8589934592", "pass"), ("0", "pass"), ("-1", "pass"), ("1048576", "fail")],
)
def test_the_running_quota_is_compared(quota: str, status: str) -> None:
    result = etcd.quota_at_least(node("/v3/maintenance/status", {"dbSizeQuota": quota}), "2Gi")
    assert result.status == status, result.message


class Refusing(FakeKube):
    """An API server whose data store refuses writes after ALLOWED of them."""

    def __init__(self, allowed: int) -> None:
        super().__init__({"ConfigMap"})
        self.allowed = allowed

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.allowed <= 0:
            raise StepError("the API server refused create (HTTP 500): etcdserver: mvcc: database space exceeded")
        self.allowed -= 1
        return super().create(obj)


def test_writes_must_keep_working_and_leave_nothing_behind() -> None:
    kube = Refusing(100)
    assert etcd.writes_work(kube, steady_for=0).ok and not kube.objects
    result = etcd.writes_work(Refusing(0), steady_for=0)
    assert result.status == "fail" and "database space exceeded" in result.message


def test_the_disarm_script_clears_each_members_alarm(tmp_path: Any) -> None:
    """The script run by a real shell, with a stand-in curl that answers like etcd's gateway."""
    calls = tmp_path / "calls"
    curl = tmp_path / "curl"
    curl.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        'case "$*" in *GET*) echo \'{"header":{}, "alarms":[{"memberID":"11", "alarm":"NOSPACE"},'
        '{"memberID":"22","alarm":"NOSPACE"}]}\';; *) echo \'{"header":{}}\';; esac\n'
    )
    curl.chmod(0o755)
    script = breaker._disarm_script(4)
    run = subprocess.run(
        ["sh", "-c", script], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    lines = calls.read_text().splitlines()
    assert len(lines) == 3 and '"action":"GET"' in lines[0]
    assert '"memberID":"11","alarm":"NOSPACE"' in lines[1] and '"memberID":"22"' in lines[2]
    assert '"action":"DEACTIVATE"' in lines[2]


def test_the_disarm_script_gives_up_when_etcd_never_answers(tmp_path: Any) -> None:
    curl = tmp_path / "curl"
    curl.write_text("#!/bin/sh\nexit 7\n")
    curl.chmod(0o755)
    run = subprocess.run(["sh", "-c", breaker._disarm_script(4)], env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert run.returncode == 1


def test_disarm_on_reset_runs_only_at_reset() -> None:
    t = FakeTransport()
    t.expect(r"^true$")
    t.expect(r"^sh -c .*DEACTIVATE.*")
    ctx = make_ctx(t)
    breaker.disarm_on_reset(ctx.node("cp1"), ChangeLog(ctx, "break"))
    assert t.log == ["true"]
    replay(ctx)
    assert t.log[-1].startswith("sh -c ") and "DEACTIVATE" in t.log[-1]
