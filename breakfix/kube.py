"""Kubernetes API access with plain dicts; the kubernetes client is imported only when used."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from breakfix.clock import CLOCK
from breakfix.errors import ApiRefused, BreakfixError, ClusterError, StepError
from breakfix.paths import state_dir

Obj = dict[str, Any]


class Kube(Protocol):
    """What breakers and graders may ask of the API server."""

    def version(self) -> Obj:
        """The server's /version."""
        ...

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """One object, or None when it does not exist."""
        ...

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[Obj]:
        """Objects of a kind, optionally in one namespace and matching a label selector."""
        ...

    def namespaced(self, api_version: str, kind: str) -> bool:
        """Whether objects of a kind live in a namespace (from discovery)."""
        ...

    def create(self, obj: Obj) -> Obj:
        """Create an object."""
        ...

    def patch(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Obj) -> Obj:
        """Apply a JSON merge patch."""
        ...

    def replace(self, obj: Obj) -> Obj:
        """Replace an object (resourceVersion may be omitted)."""
        ...

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        """Delete an object; no error when it is already gone."""
        ...

    def service_get(self, namespace: str, service: str, port: str, path: str = "/") -> tuple[int, str]:
        """GET PATH from one of a Service's endpoints through the API server's proxy: (HTTP status, body)."""
        ...

    def dry_run_create(self, obj: Obj) -> tuple[int, str]:
        """Ask the API server to create an object without storing it: (HTTP status, the refusal's message)."""
        ...


def _reason(exc: Exception) -> str:
    """The message of an API error's Status body, or its reason."""
    import json

    body = getattr(exc, "body", None) or getattr(exc, "summary", lambda: "")()
    try:
        text = str(json.loads(body).get("message") or body)
    except (TypeError, ValueError):
        text = str(body or getattr(exc, "reason", "") or exc)
    return text.strip().splitlines()[0] if text.strip() else text  # a 422 may append a whole diff


def gone_within(kube: Kube, api_version: str, kind: str, name: str, namespace: str | None, timeout: float) -> bool:
    """Wait up to TIMEOUT seconds for a deleted object to disappear (its finalizers done); False if it stays."""
    deadline = CLOCK.monotonic() + timeout
    while kube.get(api_version, kind, name, namespace) is not None:
        if CLOCK.monotonic() > deadline:
            return False
        CLOCK.sleep(1)
    return True


def _with_deadline(api: Any, timeout: float) -> None:
    """Give every request of API a deadline, including the client's own discovery requests that set none."""
    rest = api.rest_client
    request = rest.request

    def bounded(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = timeout
        return request(*args, **kwargs)

    rest.request = bounded


def describe_failure(exc: BaseException, timeout: float) -> str:
    """Why a request failed, in a few words: connection refused, timed out, TLS, HTTP status, not the API."""
    from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, SSLError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    reason: BaseException = exc
    while isinstance(reason, MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    status = getattr(exc, "status", None)
    text = str(reason).splitlines()[0][:160] if str(reason) else ""
    if isinstance(status, int) and status:
        return f"HTTP {status}"
    if isinstance(reason, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    if isinstance(reason, Urllib3Timeout | TimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(reason, SSLError) or "SSL" in type(reason).__name__:
        return f"TLS failed ({text})"
    if isinstance(reason, ProtocolError) or not isinstance(reason, OSError | HTTPError):
        return f"the answer is not the Kubernetes API ({type(reason).__name__}: {text})"
    return f"{type(reason).__name__}: {text}" if text else type(reason).__name__


class KubeClient:
    """Kube over the official client's dynamic API, built from a kubeconfig and context."""

    def __init__(self, kubeconfig: Path | None, context: str | None, timeout: float = 15.0) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.timeout = timeout
        self._dyn: Any = None
        self._host = "?"
        self._lock = threading.Lock()
        self._failed: tuple[float, ClusterError] | None = None  # the last failed first contact, and when

    def _client(self) -> Any:
        asked = time.monotonic()
        with self._lock:
            if self._dyn is None and self._failed is not None and self._failed[0] >= asked:
                raise self._failed[1]  # it failed while this thread waited: one deadline, not one per thread
            if self._dyn is None:
                from kubernetes import client, config, dynamic

                if self.kubeconfig is None:
                    raise ClusterError("the cluster has no kubeconfig (breakfix_kubeconfig in its inventory)")
                if not self.kubeconfig.exists():
                    raise ClusterError(f"kubeconfig {self.kubeconfig} does not exist")
                cfg = client.Configuration()
                try:
                    config.load_kube_config(str(self.kubeconfig), context=self.context, client_configuration=cfg)
                except Exception as exc:  # the loader raises plain exceptions
                    raise ClusterError(f"kubeconfig {self.kubeconfig}: {exc}") from None
                cfg.retries = 0  # breakfix retries itself where it makes sense, quietly
                logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
                self._host = cfg.host
                # discovery is cached per API server address, beside breakfix's state (not in /tmp)
                key = hashlib.sha256(f"{cfg.host}|{self.kubeconfig}|{self.context}".encode()).hexdigest()[:16]
                cache = state_dir() / "discovery" / f"{key}.json"
                try:
                    cache.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise ClusterError(f"cannot keep the discovery cache in {cache.parent}: {exc.strerror}") from None
                api = client.ApiClient(cfg)
                _with_deadline(api, self.timeout)
                try:
                    self._dyn = dynamic.DynamicClient(api, cache_file=str(cache))
                except BreakfixError:
                    raise
                except Exception as exc:  # discovery is the first contact: any failure is "cannot reach"
                    error = self._unreachable("discovery", exc)
                    self._failed = (time.monotonic(), error)
                    raise error from None
            return self._dyn

    def _unreachable(self, what: str, exc: BaseException) -> ClusterError:
        """One line for a failed request: where, what, why, and what to check."""
        return ClusterError(
            f"cannot reach the API server at {self._host} ({what}): {describe_failure(exc, self.timeout)}; "
            f"check that it is running and that kubeconfig {self.kubeconfig} points at it"
        )

    def _call(self, what: str, fn: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, _request_timeout=self.timeout, **kwargs)
        except NotFoundError as exc:
            if missing_ok:
                raise  # get() and delete() turn it into None / nothing
            raise ApiRefused(f"the API server refused {what} (HTTP 404): {_reason(exc)}", 404) from None
        except (ApiException, DynamicApiError) as exc:
            status = int(getattr(exc, "status", 0) or 0)
            if status == 0 or status >= 500 or status == 429:  # the server is restarting or overloaded: retryable
                raise ClusterError(f"the API server at {self._host} is not ready ({what}: HTTP {status})") from None
            raise ApiRefused(f"the API server refused {what} (HTTP {status}): {_reason(exc)}", status) from None
        except (HTTPError, OSError) as exc:
            raise self._unreachable(what, exc) from None
        except ValueError as exc:  # the client's own refusal, e.g. a namespaced kind asked for without a namespace
            raise StepError(f"cannot {what}: {exc}") from None

    def _res(self, api_version: str, kind: str) -> Any:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
        from urllib3.exceptions import HTTPError

        try:
            return self._client().resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise ApiRefused(f"the API server does not serve {kind} in {api_version}", 404) from None
        except (ApiException, DynamicApiError) as exc:
            raise self._unreachable(f"discovery of {kind}", exc) from None
        except (HTTPError, OSError, ValueError) as exc:
            raise self._unreachable(f"discovery of {kind}", exc) from None

    def version(self) -> Obj:
        """The server's /version."""
        from kubernetes import client

        info = self._call("version", client.VersionApi(self._client().client).get_code)
        return {"gitVersion": info.git_version, "platform": info.platform, "goVersion": info.go_version}

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """One object, or None when it does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            obj = self._call(
                f"get {kind}/{name}", self._res(api_version, kind).get, name=name, namespace=namespace, missing_ok=True
            )
        except NotFoundError:
            return None
        return dict(obj.to_dict())

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[Obj]:
        """Objects of a kind, optionally in one namespace and matching a label selector."""
        res = self._res(api_version, kind)
        kwargs: dict[str, Any] = {"namespace": namespace}
        if label_selector:
            kwargs["label_selector"] = label_selector
        out = self._call(f"list {kind}", res.get, **kwargs)
        return [dict(i) for i in out.to_dict().get("items", [])]

    def namespaced(self, api_version: str, kind: str) -> bool:
        """Whether objects of a kind live in a namespace (from discovery)."""
        return bool(self._res(api_version, kind).namespaced)

    def create(self, obj: Obj) -> Obj:
        """Create an object."""
        res = self._res(obj["apiVersion"], obj["kind"])
        ns = obj.get("metadata", {}).get("namespace")
        return dict(self._call(f"create {obj['kind']}", res.create, body=obj, namespace=ns).to_dict())

    def patch(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Obj) -> Obj:
        """Apply a JSON merge patch."""
        res = self._res(api_version, kind)
        out = self._call(
            f"patch {kind}/{name}",
            res.patch,
            body=patch,
            name=name,
            namespace=namespace,
            content_type="application/merge-patch+json",
        )
        return dict(out.to_dict())

    def replace(self, obj: Obj) -> Obj:
        """Replace an object; without a resourceVersion, the live one's (retried when a controller wins the race)."""
        res = self._res(obj["apiVersion"], obj["kind"])
        meta = obj.setdefault("metadata", {})
        if meta.get("resourceVersion"):
            return dict(
                self._call(f"replace {obj['kind']}", res.replace, body=obj, namespace=meta.get("namespace")).to_dict()
            )
        for attempt in range(5):
            live = self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            if live is None:
                return self.create(obj)
            body = {**obj, "metadata": {**meta, "resourceVersion": live["metadata"]["resourceVersion"]}}
            try:
                return dict(
                    self._call(
                        f"replace {obj['kind']}", res.replace, body=body, namespace=meta.get("namespace")
                    ).to_dict()
                )
            except ApiRefused as exc:
                if exc.status != 409 or attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        """Delete an object; no error when it is already gone."""
        from kubernetes.dynamic.exceptions import NotFoundError

        with contextlib.suppress(NotFoundError):
            self._call(
                f"delete {kind}/{name}",
                self._res(api_version, kind).delete,
                name=name,
                namespace=namespace,
                body={"propagationPolicy": "Background"},
                missing_ok=True,
            )

    def dry_run_create(self, obj: Obj) -> tuple[int, str]:
        """Ask the API server to create an object without storing it: (HTTP status, the refusal's message).

        Admission runs in full (webhooks with `sideEffects: None` are called), so a 5xx here is an answer,
        e.g. a webhook that cannot be called, not a sign that the API server is down."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError
        from urllib3.exceptions import HTTPError

        res = self._res(obj["apiVersion"], obj["kind"])
        try:
            res.create(
                body=obj, namespace=obj["metadata"].get("namespace"), dry_run="All", _request_timeout=self.timeout
            )
        except (ApiException, DynamicApiError) as exc:
            status = int(getattr(exc, "status", 0) or 0)
            if status == 0:
                raise self._unreachable(f"create {obj['kind']} (dry run)", exc) from None
            return status, _reason(exc)
        except (HTTPError, OSError) as exc:
            raise self._unreachable(f"create {obj['kind']} (dry run)", exc) from None
        return 201, ""

    def service_get(self, namespace: str, service: str, port: str, path: str = "/") -> tuple[int, str]:
        """GET PATH from one of a Service's endpoints through the API server's proxy: (HTTP status, body).

        The API server dials an endpoint's address and the Service's targetPort, as kube-proxy would:
        a wrong targetPort or no endpoints gives 502/503 with the proxy's reason in the body."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        core = client.CoreV1Api(self._client().client)
        name, rest = f"{service}:{port}", path.lstrip("/")
        resp: Any
        try:
            # always .../proxy/PATH: .../proxy without the slash redirects to itself
            resp = core.connect_get_namespaced_service_proxy_with_path(
                name, namespace, rest, _preload_content=False, _request_timeout=self.timeout
            )
        except ApiException as exc:
            return int(exc.status or 0), str(exc.body or exc.reason or "")
        except (HTTPError, OSError) as exc:
            raise self._unreachable(f"proxy to {service}", exc) from None
        return int(resp.status), bytes(resp.data).decode(errors="replace")
