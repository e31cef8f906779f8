"""``GET /api/v1/namespaces/<ns>/pods/<name>/log``: a container's output, proxied from the kubelet of the pod's
node (``kubectl logs [-c C] [--tail N] [-f]``, ``read_namespaced_pod_log``).

The master finds the container (``container``, or the pod's only one), the node the pod is bound to, and that
node's address (``status.hostIP``) and kubelet port (``status.kubeletPort``), then streams
``GET /containerLogs/<ns>/<pod>/<container>?tail=N&follow=true`` from it. Reaching the kubelet is
``open_kubelet`` alone, so that a kubelet port with TLS and credentials changes one function.
"""

from __future__ import annotations

from urllib.parse import quote

import falcon
import requests

from raftkube.api.resources import _VersionResource
from raftkube.model.errors import ApiError, BadRequest

DEFAULT_KUBELET_PORT = 10250
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0  # between chunks of a log that is not followed
CHUNK = 64 * 1024


class KubeletUnreachable(ApiError):
    """The kubelet of the pod's node could not be reached or answered an error."""

    code = 502
    reason = "BadGateway"


def open_kubelet(address: str, port: int, path: str, params: dict, *, follow: bool) -> requests.Response:
    """``GET path`` on a kubelet, streamed. The one place that knows how the master reaches a kubelet."""
    host = f"[{address}]" if ":" in address else address
    return requests.get(f"http://{host}:{port}{path}", params=params, stream=True,
                        timeout=(CONNECT_TIMEOUT_S, None if follow else READ_TIMEOUT_S))


def _tail(req) -> int | None:
    v = req.get_param("tailLines")
    if v in (None, ""):
        return None
    if not v.lstrip("-").isdigit() or int(v) < 0:
        raise BadRequest(f"tailLines must be a non-negative integer, not {v!r}")
    return int(v)


def _container(pod: dict, asked: str | None) -> str:
    names = [c.get("name") or "" for c in (pod.get("spec") or {}).get("containers") or ()]
    name = pod["metadata"]["name"]
    if asked:
        if asked not in names:
            raise BadRequest(f"container {asked} is not valid for pod {name}")
        return asked
    if len(names) != 1:
        raise BadRequest(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")
    return names[0]


class PodLogResource(_VersionResource):
    def on_get(self, req, resp, namespace, name):
        res = self._resource("pods", "get", req)
        pod = self._call(res, self.registry.get, res.kind, namespace, name)
        container = _container(pod, req.get_param("container"))
        tail = _tail(req)
        follow = (req.get_param("follow") or "").lower() in ("true", "1")
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node:
            raise BadRequest(f'pod "{name}" is not assigned to a node yet: it has no logs')
        status = (self._call(None, self.registry.get, "Node", "", node).get("status") or {})
        address = status.get("hostIP") or node
        port = int(status.get("kubeletPort") or DEFAULT_KUBELET_PORT)
        path = f"/containerLogs/{quote(namespace, safe='')}/{quote(name, safe='')}/{quote(container, safe='')}"
        params = {**({"tail": str(tail)} if tail is not None else {}), **({"follow": "true"} if follow else {})}
        where = f'the kubelet of node "{node}" at {address}:{port}'
        try:
            upstream = open_kubelet(address, port, path, params, follow=follow)
        except requests.RequestException as exc:
            raise KubeletUnreachable(f"cannot reach {where}: {type(exc).__name__}") from None
        if upstream.status_code != 200:
            text = upstream.text.strip()[:200]
            upstream.close()
            raise KubeletUnreachable(f"{where} answered {upstream.status_code}: {text}")
        resp.status = 200
        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = _relay(upstream)


def _relay(upstream: requests.Response):
    try:
        for chunk in upstream.iter_content(chunk_size=None):
            if chunk:
                yield chunk
    except requests.RequestException:
        return  # the kubelet went away mid-stream: the log ends there
    finally:
        upstream.close()
