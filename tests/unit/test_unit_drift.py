"""graders.unit_drift: a running service compared with what its unit files say now."""

from __future__ import annotations

import pytest

from breakfix.transport.node import Node
from graders import unit_drift
from tests.fakes import FakeTransport

SHOW = (
    "MainPID=722\n"
    "NeedDaemonReload=no\n"
    "ExecStart={ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
    "$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS ; ignore_errors=no ; start_time=[n/a] ; pid=0 }\n"
    'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf '
    '--kubeconfig=/etc/kubernetes/kubelet.conf" KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\n'
    "EnvironmentFiles=/var/lib/kubelet/kubeadm-flags.env (ignore_errors=yes)\n"
    "EnvironmentFiles=/etc/default/kubelet (ignore_errors=yes)\n"
    "--- breakfix ---\n"
    "LANG=C.UTF-8\nPATH=/usr/bin\n"
)
FLAGS_ENV = 'KUBELET_KUBEADM_ARGS="--pod-infra-container-image=registry.k8s.io/pause:3.10.1 --node-ip=10.0.0.2"\n'
RUNNING = [
    "/usr/bin/kubelet",
    "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
    "--kubeconfig=/etc/kubernetes/kubelet.conf",
    "--config=/var/lib/kubelet/config.yaml",
    "--pod-infra-container-image=registry.k8s.io/pause:3.10.1",
    "--node-ip=10.0.0.2",
]


def node(cmdline: list[str], flags_env: str = FLAGS_ENV, default: str | None = None, show: str = SHOW) -> Node:
    fake = FakeTransport()
    fake.expect(r"systemctl show kubelet -p MainPID .*", stdout=show)
    fake.expect(r"cat /var/lib/kubelet/kubeadm-flags.env", stdout=flags_env)
    fake.expect(r"cat /etc/default/kubelet", rc=0 if default is not None else 1, stdout=default or "")
    fake.expect(r"tr .* < /proc/722/cmdline", stdout="\n".join(cmdline) + "\n")
    return Node("cp1", "control-plane", fake, "10.0.0.2")


def test_a_kubelet_started_from_its_files_passes() -> None:
    result = unit_drift.runs_as_configured(node(RUNNING), "kubelet")
    assert result.status == "pass", result.message


def test_extra_args_from_the_defaults_file_count() -> None:
    running = [*RUNNING, "--v=2"]
    assert unit_drift.runs_as_configured(node(running, default="KUBELET_EXTRA_ARGS=--v=2\n"), "kubelet").ok
    assert not unit_drift.runs_as_configured(node(running), "kubelet").ok


def test_a_flag_from_a_drop_in_since_removed_fails() -> None:
    """The drop-in gave --pod-manifest-path; it was removed and systemd reloaded, the kubelet kept running."""
    result = unit_drift.runs_as_configured(node([*RUNNING, "--pod-manifest-path=/etc/kubernetes/manifests"]), "kubelet")
    assert result.status == "fail"
    assert "--pod-manifest-path=/etc/kubernetes/manifests, which its files no longer give" in result.message


def test_an_environment_file_edited_without_a_restart_fails() -> None:
    edited = FLAGS_ENV.replace("--node-ip=10.0.0.2", "--node-ip=10.0.0.2 --container-runtime-endpoint=unix:///x")
    result = unit_drift.runs_as_configured(node(RUNNING, flags_env=edited), "kubelet")
    assert result.status == "fail" and "which it was not started with" in result.message


def test_a_stopped_unit_fails() -> None:
    result = unit_drift.runs_as_configured(node(RUNNING, show=SHOW.replace("MainPID=722", "MainPID=0")), "kubelet")
    assert result.status == "fail" and "not running" in result.message


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ('A="x y"\n# c\n; c\n\nB=z\n', {"A": "x y", "B": "z"}),
        ("A='--a=1  --b=2'\n", {"A": "--a=1  --b=2"}),
        ('A="unbalanced\nB=ok\n', {"A": '"unbalanced', "B": "ok"}),
        ("A=--v=2 \\\n--max-pods=200\n", {"A": "--v=2 --max-pods=200"}),  # a continued line
        (
            "A='--v=2 --eviction-hard=\"memory.available<500Mi\"'\n",
            {"A": '--v=2 --eviction-hard="memory.available<500Mi"'},
        ),
        ('A="say \\"hi\\""\n', {"A": 'say "hi"'}),
    ],
)
def test_parse_env_file(text: str, env: dict[str, str]) -> None:
    assert unit_drift.parse_env_file(text) == env


def test_expand_splits_a_lone_variable_and_keeps_a_braced_one() -> None:
    env = {"A": "--x=1 --y=2", "B": "one two"}
    assert unit_drift.expand(["/bin/d", "$A", "--name=${B}", "$MISSING"], env) == [
        "/bin/d",
        "--x=1",
        "--y=2",
        "--name=one two",
    ]


def test_quotes_inside_a_value_are_taken_off_when_it_is_expanded() -> None:
    """systemd keeps inner quotes in the stored value and unquotes while splitting a lone $VAR."""
    env = unit_drift.parse_env_file('KUBELET_EXTRA_ARGS=--x="a b" --y=1\n')
    assert unit_drift.expand(["/usr/bin/kubelet", "$KUBELET_EXTRA_ARGS"], env) == [
        "/usr/bin/kubelet",
        "--x=a b",
        "--y=1",
    ]
    running = [*RUNNING, "--eviction-hard=memory.available<500Mi"]
    default = "KUBELET_EXTRA_ARGS='--eviction-hard=\"memory.available<500Mi\"'\n"
    assert unit_drift.runs_as_configured(node(running, default=default), "kubelet").ok


def test_a_multi_line_defaults_file_counts() -> None:
    default = "KUBELET_EXTRA_ARGS=--v=2 \\\n  --max-pods=200\n"
    assert unit_drift.runs_as_configured(node([*RUNNING, "--v=2", "--max-pods=200"], default=default), "kubelet").ok


def test_files_changed_without_a_reload_fail() -> None:
    """A drop-in deleted without daemon-reload: systemd still shows (and would restart with) what it read."""
    show = SHOW.replace("NeedDaemonReload=no", "NeedDaemonReload=yes")
    result = unit_drift.runs_as_configured(node(RUNNING, show=show), "kubelet")
    assert result.status == "fail" and "no daemon-reload" in result.message


def test_an_environment_file_the_next_boot_clears_fails() -> None:
    show = SHOW.replace("EnvironmentFiles=/etc/default/kubelet", "EnvironmentFiles=/run/kubelet.env")
    fake = node(RUNNING, show=show)
    fake.transport.expect(r"cat /run/kubelet.env", stdout="")  # type: ignore[attr-defined]
    result = unit_drift.runs_as_configured(fake, "kubelet")
    assert result.status == "fail" and "/run/kubelet.env, which the next boot clears" in result.message
