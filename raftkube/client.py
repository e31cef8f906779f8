"""How controllers, the minion, the proxy and the CLI see the cluster: the ``Client`` protocol.

Two implementations: ``HttpClient`` here (v1beta1 over HTTP, failing over across the masters' list) and
``registry.client.LocalClient`` (in-process on a master, over the registry, stamping the controllers' leader
epoch). Both speak internal objects (``model/objects.py``) and raise the errors of ``model/errors.py``.
This module loads no store code: minions, the proxy and the CLI are HTTP clients only.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Iterator, Protocol

import requests
import urllib3

from raftkube.apis import v1beta1
from raftkube.apis.headers import ATTEMPT_HEADER, REQUEST_ID_HEADER, WRITES
from raftkube.apis.v1beta1 import RESOURCES_BY_KIND
from raftkube.model.errors import ApiError, Gone, Unavailable, error_from_status
from raftkube.model.objects import DEFAULT_NAMESPACE, name_of, namespace_of, rv_of
from raftkube.model.watch import WatchEvent

log = logging.getLogger(__name__)

#: an idle watch stream carries a newline this often (see api/resources.py)
WATCH_KEEPALIVE_S = 15.0


class Client(Protocol):
    def get(self, kind: str, name: str, namespace: str = DEFAULT_NAMESPACE) -> dict: ...

    def list(self, kind: str, namespace: str | None = None, labels: str = "",
             fields: str = "") -> tuple[list[dict], int]: ...

    def create(self, obj: dict) -> dict: ...

    def update(self, obj: dict) -> dict: ...

    def update_status(self, obj: dict) -> dict: ...

    def delete(self, kind: str, name: str, namespace: str = DEFAULT_NAMESPACE, *, uid: str = "",
               resource_version: int = 0) -> None:
        """Delete the object ``name``; with ``uid`` / ``resource_version``, only if it is still that object /
        that version of it (otherwise Conflict), so a newer object of the same name is never deleted."""

    def bind(self, namespace: str, pod: str, node: str) -> None: ...

    def watch(self, kind: str, namespace: str | None = None, labels: str = "", fields: str = "",
              resource_version: int = 0) -> "Watch": ...


class Watch(Protocol):
    def __iter__(self) -> Iterator[WatchEvent | None]: ...

    def close(self) -> None: ...


# ---- over HTTP ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    """For https masters: the cluster CA to verify them with, and who we are (a bearer token, or a client
    certificate and its key). Empty: the system's CAs and no credential (the plain loopback port needs none)."""

    ca_file: str | None = None
    token: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def apply(self, session: requests.Session) -> None:
        if self.ca_file:
            # a Session's verify loses to $REQUESTS_CA_BUNDLE (requests issue 3829); a request's own verify wins,
            # so every request passes it too (``verify``)
            session.verify = self.ca_file
        if self.cert_file:
            session.cert = (self.cert_file, self.key_file) if self.key_file else self.cert_file
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"

    @property
    def verify(self) -> dict:
        """Keyword arguments for ``Session.request``: the CA file, when there is one."""
        return {"verify": self.ca_file} if self.ca_file else {}


class HttpClient:
    """v1beta1 over HTTP(S). A request that cannot reach a master, or gets 503, moves on to the next one."""

    def __init__(self, urls: list[str] | str, timeout_s: float = 10.0, retry_for_s: float = 10.0,
                 credentials: Credentials | None = None):
        if isinstance(urls, str):
            urls = [u for u in urls.split(",") if u]
        if not urls:
            raise ValueError("at least one master URL is needed")
        self.urls = [u.rstrip("/") for u in urls]
        self.timeout_s = timeout_s
        self.retry_for_s = retry_for_s
        self._current = 0
        self._local = threading.local()
        self.credentials = credentials or Credentials()

    @property
    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            self.credentials.apply(s)
        return s

    @property
    def current_url(self) -> str:
        return self.urls[self._current % len(self.urls)]

    def request(self, method: str, path: str, params: dict | None = None, body: dict | None = None,
                stream: bool = False, timeout_s: float | None = None) -> requests.Response:
        """One answer from any master; raises the ApiError a failure Status describes."""
        deadline = time.monotonic() + self.retry_for_s
        attempt = 0
        last: Exception | None = None
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if method in WRITES:  # one id for every attempt: a replay after an unknown outcome applies at most once
            headers[REQUEST_ID_HEADER] = uuid.uuid4().hex
        while True:
            url = self.current_url + path
            if method in WRITES:
                headers[ATTEMPT_HEADER] = str(attempt + 1)
            try:
                resp = self.session.request(method, url, params=params, data=data, headers=headers,
                                            timeout=timeout_s if timeout_s is not None else self.timeout_s,
                                            stream=stream, **self.credentials.verify)
            except requests.exceptions.SSLError as exc:  # a wrong CA or certificate: retrying cannot help
                raise Unavailable(f"TLS with master {self.current_url} failed: {_ssl_reason(exc)}") from None
            except requests.RequestException as exc:
                last = Unavailable(f"cannot reach master {self.current_url}: {exc.__class__.__name__}")
            else:
                if resp.status_code < 400:
                    return resp
                err = _error(resp)
                if resp.status_code != 503:
                    raise err
                last = err
            attempt += 1
            self._current = (self._current + 1) % len(self.urls)
            if time.monotonic() > deadline:
                if isinstance(last, ApiError):
                    if len(self.urls) > 1 and "cannot reach" in str(last):
                        raise Unavailable(f"no master reachable ({', '.join(self.urls)})") from None
                    raise last
                raise Unavailable(str(last))
            if attempt % len(self.urls) == 0:
                time.sleep(min(0.05 * 2 ** (attempt // len(self.urls)), 1.0))

    @staticmethod
    def _path(kind: str, name: str | None = None, sub: str | None = None) -> str:
        path = "/api/v1beta1/" + RESOURCES_BY_KIND[kind].plural
        if name is not None:
            path += "/" + requests.utils.quote(name, safe="")
        if sub:
            path += "/" + sub
        return path

    @staticmethod
    def _ns_params(kind: str, namespace: str | None) -> dict:
        if namespace and RESOURCES_BY_KIND[kind].namespaced:
            return {"namespace": namespace}
        return {}

    def get(self, kind, name, namespace=DEFAULT_NAMESPACE):
        resp = self.request("GET", self._path(kind, name), self._ns_params(kind, namespace))
        return v1beta1.from_wire(kind, resp.json(), namespace=namespace)

    def list(self, kind, namespace=None, labels="", fields=""):
        params = self._ns_params(kind, namespace)
        if labels:
            params["labels"] = labels
        if fields:
            params["fields"] = v1beta1.selector_to_wire(fields)
        doc = self.request("GET", self._path(kind), params).json()
        return ([v1beta1.from_wire(kind, item, namespace=item.get("namespace") or DEFAULT_NAMESPACE)
                 for item in doc.get("items") or ()], int(doc.get("resourceVersion") or 0))

    def create(self, obj):
        kind, ns = obj["kind"], namespace_of(obj)
        resp = self.request("POST", self._path(kind), self._ns_params(kind, ns), v1beta1.to_wire(obj))
        return v1beta1.from_wire(kind, resp.json(), namespace=ns)

    def update(self, obj):
        kind, ns = obj["kind"], namespace_of(obj)
        resp = self.request("PUT", self._path(kind, name_of(obj)), self._ns_params(kind, ns), v1beta1.to_wire(obj))
        return v1beta1.from_wire(kind, resp.json(), namespace=ns)

    def update_status(self, obj):
        kind, ns = obj["kind"], namespace_of(obj)
        resp = self.request("PUT", self._path(kind, name_of(obj), "status"), self._ns_params(kind, ns),
                            v1beta1.to_wire(obj))
        return v1beta1.from_wire(kind, resp.json(), namespace=ns)

    def delete(self, kind, name, namespace=DEFAULT_NAMESPACE, *, uid="", resource_version=0):
        self.request("DELETE", self._path(kind, name), self._ns_params(kind, namespace),
                     v1beta1.delete_options(uid, resource_version) if uid or resource_version else None)

    def bind(self, namespace, pod, node):
        self.request("POST", "/api/v1beta1/bindings", None,
                     {"kind": "Binding", "podID": pod, "host": node, "namespace": namespace})

    def watch(self, kind, namespace=None, labels="", fields="", resource_version=0):
        params = self._ns_params(kind, namespace)
        if labels:
            params["labels"] = labels
        if fields:
            params["fields"] = v1beta1.selector_to_wire(fields)
        if resource_version:
            params["resourceVersion"] = str(resource_version)
        path = "/api/v1beta1/watch/" + RESOURCES_BY_KIND[kind].plural
        # the server writes a newline every WATCH_KEEPALIVE_S on an idle stream: a longer silence is a dead master
        resp = self.request("GET", path, params, stream=True, timeout_s=(self.timeout_s, 3 * WATCH_KEEPALIVE_S))
        return _HttpWatch(resp, kind)

    def raft_status(self, url: str) -> dict:
        return self.session.get(url.rstrip("/") + "/raft", timeout=self.timeout_s, **self.credentials.verify).json()


def _ssl_reason(exc: Exception) -> str:
    text = str(exc)
    start = text.find("[SSL")
    return text[start:].split("')")[0].rstrip(")") if start >= 0 else text


class _HttpWatch:
    def __init__(self, resp: requests.Response, kind: str):
        self._resp = resp
        self._kind = kind

    def _lines(self):
        """Lines as soon as each chunk arrives (iter_lines would wait for a full read buffer)."""
        raw = self._resp.raw
        chunks = raw.read_chunked() if getattr(raw, "chunked", False) else iter(lambda: raw.read1(65536), b"")
        pending = b""
        for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            yield from lines
        if pending:
            yield pending

    def __iter__(self):
        try:
            for line in self._lines():
                if not line.strip():
                    continue
                ev = json.loads(line)
                obj = ev.get("object") or {}
                if ev.get("type") == "ERROR":
                    raise error_from_status(obj, int(obj.get("code") or 500))
                internal = v1beta1.from_wire(self._kind, obj, namespace=obj.get("namespace") or DEFAULT_NAMESPACE)
                yield WatchEvent(ev["type"], internal, rv_of(internal))
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, AttributeError, ValueError) as exc:
            if isinstance(exc, Gone):
                raise
            raise Unavailable(f"watch stream ended: {exc.__class__.__name__}") from None

    def close(self):
        """End the stream, also while another thread is blocked reading it: closing the response alone
        would wait for that reader (up to the next keepalive); shutting the socket down wakes it with EOF."""
        raw = self._resp.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is None:  # http.client let go of conn.sock (Connection: close); the reader's file holds it
            sock = getattr(getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None), "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._resp.close()


def _error(resp: requests.Response) -> ApiError:
    try:
        body = resp.json()
        if isinstance(body, dict) and body.get("kind") == "Status":
            err = error_from_status(body, resp.status_code)
            retry = resp.headers.get("Retry-After")
            if retry and isinstance(err, Unavailable):
                err.retry_after_s = float(retry)
            return err
    except ValueError:
        pass
    return error_from_status({"message": f"HTTP {resp.status_code}: {resp.text[:200]}"}, resp.status_code)
