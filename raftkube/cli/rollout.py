"""What ``resize --wait``, ``stop``, ``rm`` and ``rollingupdate`` do to a replication controller, without click.

Plain functions over a client with ``request(method, path, params=None, body=None)`` (the HTTP client),
a ``progress`` callback that receives each line of progress (the commands print it on stderr), and an
injected clock and sleep, so unit tests drive them with a fake client and a fake clock. A wait that runs
out, or a controller that cannot be changed as asked, raises ``RolloutError``, whose message is the one
line the CLI prints; API errors (``NotFound``, ``Conflict``...) pass through as they are.
"""

from __future__ import annotations

import time
from typing import Callable

from raftkube.apis.v1beta1 import delete_options
from raftkube.cli.targets import PODS, RC, api_path, get_object, put_object
from raftkube.client import HttpClient
from raftkube.model.errors import Conflict, NotFound
from raftkube.model.selectors import format_labels

Progress = Callable[[str], None]
Clock = Callable[[], float]
Sleep = Callable[[float], None]

#: read-modify-write attempts of a replica count when other writers keep winning (409 Conflict)
SET_REPLICAS_ATTEMPTS = 5
#: the longest pause between two looks at a controller's current replica count
REPLICAS_POLL_S = 0.5
#: the pause between two counts of the pods a rolling update waits on
REPLACEMENT_POLL_S = 0.2


class RolloutError(Exception):
    """A resize, removal or rolling update that cannot finish; the message is the CLI's error line."""


def set_replicas(client: HttpClient, name: str, replicas: int) -> dict:
    """GET the controller, set desiredState.replicas, PUT; retried when someone else wrote in between."""
    for attempt in range(SET_REPLICAS_ATTEMPTS):
        rc = get_object(client, RC, name)
        rc.setdefault("desiredState", {})["replicas"] = replicas
        try:
            return put_object(client, RC, name, rc)
        except Conflict:
            if attempt == SET_REPLICAS_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def wait_replicas(client: HttpClient, name: str, replicas: int, timeout_s: float, progress: Progress, *,
                  clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
    """Poll until currentState.replicas == replicas, reporting each change; RolloutError after timeout_s."""
    deadline = clock() + timeout_s
    last = None
    while True:
        current = (get_object(client, RC, name).get("currentState") or {}).get("replicas") or 0
        if current != last:
            progress(f'replicationController "{name}": {current}/{replicas} replicas')
            last = current
        if current == replicas:
            return
        if clock() >= deadline:
            raise RolloutError(f'timed out after {timeout_s:g}s waiting for replicationController '
                               f'"{name}" to have {replicas} replicas (it has {current})')
        sleep(min(REPLICAS_POLL_S, max(deadline - clock(), 0.01)))


def remove_controller(client: HttpClient, name: str) -> dict:
    """DELETE the controller and return the Status; refused (RolloutError) while it wants replicas.

    The delete is of the version read (its uid and resourceVersion as preconditions): a controller resized up
    or created again under that name since the check is not deleted (409 Conflict)."""
    rc = get_object(client, RC, name)
    replicas = (rc.get("desiredState") or {}).get("replicas") or 0
    if replicas != 0:
        raise RolloutError(f"controller has non-zero replicas ({replicas}), please stop it first")
    return client.request("DELETE", api_path(RC, name), body=_this_one(rc)).json()


def _this_one(obj: dict) -> dict:
    """A DELETE body that deletes only this version of this object (v1beta1 ``uid``, ``resourceVersion``)."""
    return delete_options(obj.get("uid") or "", int(obj.get("resourceVersion") or 0))


def matching_pods(client: HttpClient, selector: dict) -> list[dict]:
    """The pods whose labels match ``selector`` that are not terminated (v1beta1 ``Terminated``)."""
    doc = client.request("GET", api_path(PODS), {"labels": format_labels(selector)}).json()
    return [p for p in doc.get("items") or [] if pod_status(p) != "Terminated"]


def pod_status(pod: dict) -> str:
    """A v1beta1 pod's ``currentState.status`` (``Waiting`` when unset)."""
    return (pod.get("currentState") or {}).get("status") or "Waiting"


def set_template_image(client: HttpClient, name: str, rc: dict, image: str) -> dict:
    """PUT ``rc`` with ``image`` as its template's first container image; returns the stored controller."""
    containers = ((((rc.setdefault("desiredState", {}).get("podTemplate") or {}).get("desiredState") or {})
                   .get("manifest") or {}).get("containers")) or []
    if not containers:
        raise RolloutError(f'replicationController "{name}" has no container in its template')
    containers[0]["image"] = image
    return put_object(client, RC, name, rc)


def rolling_update(client: HttpClient, name: str, *, image: str | None, period_s: float, timeout_s: float,
                   progress: Progress, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> int:
    """Replace the controller's pods one by one (after setting its template ``image``, if given).

    The non-terminated pods matching its selector are deleted in name order; after each, wait (up to
    ``timeout_s``, else RolloutError) until as many matching pods are Running as there were pods at the
    start (a replacement that exists but is not Running yet does not count; terminated pods are ignored),
    then pause ``period_s`` before the next. Returns how many pods were replaced.
    """
    rc = get_object(client, RC, name)
    if image:
        rc = set_template_image(client, name, rc, image)
        progress(f'replicationController "{name}": template image is now {image}')
    selector = (rc.get("desiredState") or {}).get("replicaSelector") or {}
    pods = sorted(matching_pods(client, selector), key=lambda p: p.get("id") or "")
    total = len(pods)
    if not total:
        progress(f'replicationController "{name}": no pods match {format_labels(selector)}; nothing to replace')
        return 0
    for i, pod in enumerate(pods, 1):
        pod_name = pod.get("id") or ""
        try:  # this pod only (its uid): never a newer one of the same name
            client.request("DELETE", api_path(PODS, pod_name), body=delete_options(pod.get("uid") or ""))
        except (NotFound, Conflict):
            pass  # gone already, or replaced by another pod of that name
        progress(f"[{i}/{total}] deleted pod {pod_name}; waiting for its replacement")
        deadline = clock() + timeout_s
        while True:
            count = sum(1 for p in matching_pods(client, selector) if pod_status(p) == "Running")
            if count >= total:
                break
            if clock() >= deadline:
                raise RolloutError(
                    f'timed out after {timeout_s:g}s waiting for replicationController "{name}" to replace pod '
                    f'"{pod_name}" ({count}/{total} pods running)')
            sleep(REPLACEMENT_POLL_S)
        progress(f"[{i}/{total}] {count}/{total} pods running")
        if i < total and period_s > 0:
            progress(f"waiting {period_s:g}s before the next pod")
            sleep(period_s)
    progress(f'replicationController "{name}": all {total} pods replaced')
    return total
