"""First contact with the API server has a deadline and fails as one clear ClusterError (real sockets on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from breakfix.cli.main import main
from breakfix.errors import ApiRefused, ClusterError, api_not_ready
from breakfix.kube import KubeClient


def _serve(answer: Callable[[socket.socket], None]) -> Iterator[int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            held.append(conn)
            answer(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join(2)
    for c in held:
        c.close()
    srv.close()


def _silent(conn: socket.socket) -> None:
    """Accept and never answer."""


def _http500(conn: socket.socket) -> None:
    conn.recv(65536)
    body = b'{"kind":"Status","message":"etcd not ready"}'
    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n")
    conn.sendall(b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    conn.close()


def _garbage(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(b"\x00\x01 this is not HTTP at all\r\n\r\n")
    conn.close()


def _not_json(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    )
    conn.close()


def _refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()  # nothing listens there now
    return port


def _kubeconfig(folder: Path, port: int, scheme: str = "http") -> Path:
    path = folder / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{scheme}://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"""
    )
    return path


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (_silent, "timed out after 1s"),
        (_http500, "HTTP 500"),
        (_garbage, "not the Kubernetes API"),
        (_not_json, "not the Kubernetes API"),
        (None, "connection refused"),
    ],
)
def test_first_contact_fails_as_one_line_within_the_deadline(
    tmp_path: Path, answer: Callable[[socket.socket], None] | None, why: str
) -> None:
    servers = _serve(answer) if answer else iter([_refused_port()])
    port = next(servers)
    try:
        kube = KubeClient(_kubeconfig(tmp_path, port), None, timeout=1.0)
        began = time.monotonic()
        with pytest.raises(ClusterError) as err:
            kube.get("v1", "ConfigMap", "x", "default")
        assert time.monotonic() - began < 8
    finally:
        next(servers, None)
    message = str(err.value)
    assert f"cannot reach the API server at http://127.0.0.1:{port}" in message and why in message, message
    assert "\n" not in message and "MaxRetryError" not in message
    assert api_not_ready(err.value)  # the restart retry loops wait on it


def test_threads_waiting_on_a_silent_server_share_one_deadline(tmp_path: Path) -> None:
    servers = _serve(_silent)
    port = next(servers)
    errors: list[BaseException] = []
    try:
        kube = KubeClient(_kubeconfig(tmp_path, port), None, timeout=1.0)

        def grade_check() -> None:
            try:
                kube.get("v1", "Node", "cp1")
            except ClusterError as exc:
                errors.append(exc)

        began = time.monotonic()
        threads = [threading.Thread(target=grade_check) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        took = time.monotonic() - began
    finally:
        next(servers, None)
    assert len(errors) == 6 and all("timed out after 1s" in str(e) for e in errors)
    assert took < 4, took  # not six deadlines one after another


def test_a_tls_failure_at_first_contact_is_one_line(tmp_path: Path) -> None:
    servers = _serve(_http500)  # plain HTTP where the kubeconfig expects TLS
    port = next(servers)
    try:
        kube = KubeClient(_kubeconfig(tmp_path, port, "https"), None, timeout=2.0)
        with pytest.raises(
            ClusterError, match=rf"cannot reach the API server at https://127.0.0.1:{port} .*TLS failed"
        ):
            kube.version()
    finally:
        next(servers, None)


def _discovery_only(conn: socket.socket) -> None:
    """A tiny API server: discovery answers, and it serves no kinds at all."""
    request = conn.recv(65536).split(b" ")
    path = request[1] if len(request) > 1 else b"/"
    bodies = {
        b"/api": b'{"kind":"APIVersions","versions":["v1"]}',
        b"/apis": b'{"kind":"APIGroupList","groups":[]}',
        b"/api/v1": b'{"kind":"APIResourceList","groupVersion":"v1","resources":[]}',
        b"/version": b'{"gitVersion":"v1.34.0","platform":"linux/amd64","goVersion":"go1.24"}',
    }
    body = bodies.get(path.split(b"?")[0], b'{"kind":"Status","code":404}')
    status = b"200 OK" if path.split(b"?")[0] in bodies else b"404 Not Found"
    conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n")
    conn.sendall(b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    conn.close()


def test_a_kind_the_server_does_not_serve_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    servers = _serve(_discovery_only)
    port = next(servers)
    try:
        kube = KubeClient(_kubeconfig(tmp_path, port), None, timeout=2.0)
        with pytest.raises(ApiRefused, match="does not serve Widget in v1") as err:
            kube.get("v1", "Widget", "w")
    finally:
        next(servers, None)
    assert err.value.status == 404 and not api_not_ready(err.value)


def test_adopt_of_an_unreachable_address_is_one_line_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = _refused_port()
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        f"all:\n  vars: {{breakfix_kubeconfig: {_kubeconfig(tmp_path, port)}}}\n"
        "  children:\n    control_plane:\n      hosts: {cp1: {ansible_connection: local}}\n"
    )
    code = main(["cluster", "adopt", str(inventory), "--yes"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "connection refused" in err and "check" in err


def test_a_refusal_of_the_client_itself_is_a_step_error_not_a_traceback() -> None:
    from types import SimpleNamespace

    from breakfix.errors import StepError
    from breakfix.kube import KubeClient

    def needs_namespace(**_kwargs: object) -> None:
        raise ValueError("Namespace is required for apps/v1.Deployment")

    client = SimpleNamespace(timeout=5, _host="https://fake:6443")
    with pytest.raises(StepError, match=r"cannot delete Deployment/orders: Namespace is required"):
        KubeClient._call(client, "delete Deployment/orders", needs_namespace)  # type: ignore[arg-type]
