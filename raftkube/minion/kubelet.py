"""The kubelet: make the container runtime match the pods bound to this minion, and report their status.

Three parts, after dask's worker state machine:

* **Pure planning.** ``sync_pods(desired, actual, now, unhealthy) -> [Action]`` decides what to start,
  stop and remove from the pods bound here and the containers that exist; ``pod_status(...)`` computes a
  pod's status from its containers. No I/O, no clock, no threads: the unit tests feed them records.
* **A thin executor.** ``Kubelet`` lists the runtime, plans, and runs each pod's actions in a worker
  (one worker per pod at a time, as in 2014), then pushes every status that changed through the client.
* **Sources.** ``PodSource`` keeps the bound pods from a list + watch of the API (relisting on 410 Gone
  or a lost master); one source can feed many kubelets (hollow minions in one process).

Pod layout (2014): an infra container ``net`` (the pause image) holds the pod IP, hostname and the
hostPort bindings; each app container joins its network namespace, so all share one IP and localhost.
Containers are labelled (``runtime.LABEL_*``) and named
``k8s_<container>.<hash>_<pod>.<namespace>.api_<uid8>_<rand8>``; a restarted kubelet adopts them.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import socket
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

import requests

from raftkube.model.errors import ApiError, Gone, NotFound
from raftkube.model.objects import FAILED, PENDING, RUNNING, SUCCEEDED, name_of, namespace_of, pod_node
from raftkube.minion.images import PAUSE_IMAGE
from raftkube.minion.runtime import (INFRA_NAME, LABEL_CONTAINER, LABEL_HASH, LABEL_INFRA_ID, LABEL_MANAGED,
                                     LABEL_NODE, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID,
                                     LABEL_RESTART_COUNT, ContainerConfig, ContainerRuntime, ImageError, Mount,
                                     PortBinding, RuntimeContainer, RuntimeFailure)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KubeletSettings:
    sync_period_s: float = 2.0
    """Full resync period; watch events and finished workers wake the loop earlier."""
    stop_grace_s: float = 5.0
    """SIGTERM -> SIGKILL delay when a container is replaced (spec change, failed probe, dead infra).
    Containers of deleted pods are killed at once (the pod is gone)."""
    min_sync_interval_s: float = 0.05
    """Wake-ups closer together than this share one round (one runtime listing)."""
    workers: int = 4
    """Pods whose actions run in parallel; 0 runs them inline in the sync thread (hollow minions)."""
    probe_period_s: float = 1.0
    """How often liveness probes run (0 disables them: hollow minions)."""
    probe_timeout_s: float = 1.0
    image_backoff_s: float = 10.0
    """After a failed pull, the same image is not tried again for this long (the reason is kept)."""
    max_restart_backoff_s: float = 10.0
    """A crashing container is restarted at once the first time, then after 1, 2, 4 ... s up to this."""
    infra_image: str = PAUSE_IMAGE
    root_dir: str = "/var/lib/raftkube/kubelet"
    """Where emptyDir volumes live (``<root>/pods/<uid>/volumes/<name>``)."""


# ---- pure helpers ---------------------------------------------------------------------------------
def container_hash(container: dict, service_env: list | None = None) -> str:
    """adler32 of the container spec (and the pod's service env), hex: a change means recreate."""
    doc = json.dumps([container, service_env or []], sort_keys=True, separators=(",", ":"))
    return format(zlib.adler32(doc.encode()), "08x")


def infra_hash(pod: dict) -> str:
    """The infra container changes only with the pod's port bindings or hostname."""
    ports = sorted((p.get("containerPort") or 0, p.get("hostPort") or 0, (p.get("protocol") or "TCP").upper(),
                    p.get("hostIP") or "")
                   for c in (pod.get("spec") or {}).get("containers") or () for p in c.get("ports") or ())
    return format(zlib.adler32(json.dumps([name_of(pod), ports]).encode()), "08x")


def docker_name(container: str, spec_hash: str, pod: str, namespace: str, uid: str, rand: str) -> str:
    return f"k8s_{container}.{spec_hash}_{pod}.{namespace}.api_{uid[:8]}_{rand}"


def cpu_shares(milli_cpu: int) -> int:
    """2014: CpuShares = cpu * 1024 / 1000, at least 2; 0 means unset."""
    if not milli_cpu:
        return 0
    return max(2, milli_cpu * 1024 // 1000)


def pod_uid(pod: dict) -> str:
    return (pod.get("metadata") or {}).get("uid") or f"{namespace_of(pod)}/{name_of(pod)}"


def _restart_policy(pod: dict) -> str:
    return (pod.get("spec") or {}).get("restartPolicy") or "Always"


def _ts(s: str) -> float:
    if not s:
        return 0.0
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _newest_first(cs: Iterable[RuntimeContainer]) -> list[RuntimeContainer]:
    return sorted(cs, key=lambda c: (c.created, c.restart_count), reverse=True)


def restart_backoff_s(restart_count: int, cap_s: float) -> float:
    return 0.0 if restart_count <= 0 else min(cap_s, float(2 ** (restart_count - 1)))


def wants_restart(policy: str, exit_code: int) -> bool:
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return exit_code != 0
    return False


# ---- actions --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartInfra:
    uid: str
    pod: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class StartContainer:
    uid: str
    container: str
    restart_count: int
    infra_id: str  # "" = the infra container started earlier in the same batch
    pod: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class StopContainer:
    uid: str
    container_id: str
    reason: str


@dataclass(frozen=True)
class RemoveContainer:
    uid: str
    container_id: str
    reason: str


Action = StartInfra | StartContainer | StopContainer | RemoveContainer


# ---- the pure planner -----------------------------------------------------------------------------
def sync_pods(desired: dict[str, dict], actual: list[RuntimeContainer], now: float = 0.0,
              unhealthy: frozenset[str] | set[str] = frozenset(), max_backoff_s: float = 10.0) -> list[Action]:
    """What to do so that ``actual`` matches ``desired`` (pod uid -> internal pod).

    Per pod, in order: removals and stops, then the infra container, then app containers.
    """
    by_pod: dict[str, list[RuntimeContainer]] = {}
    for c in actual:
        by_pod.setdefault(c.pod_uid, []).append(c)
    actions: list[Action] = []
    for uid, cs in by_pod.items():
        if uid not in desired:
            actions += [RemoveContainer(uid, c.id, "pod no longer bound here") for c in cs]
    for uid, pod in desired.items():
        actions += plan_pod(uid, pod, by_pod.get(uid, []), now, unhealthy, max_backoff_s)
    return actions


def plan_pod(uid: str, pod: dict, mine: list[RuntimeContainer], now: float,
             unhealthy: frozenset[str] | set[str], max_backoff_s: float = 10.0) -> list[Action]:
    spec = pod.get("spec") or {}
    policy = _restart_policy(pod)
    service_env = spec.get("serviceEnv") or []
    removals: list[Action] = []
    starts: list[Action] = []

    want_infra = infra_hash(pod)
    infras = _newest_first(c for c in mine if c.is_infra)
    infra = next((c for c in infras if c.running and c.spec_hash == want_infra), None)
    for c in infras:
        if c is not infra:
            removals.append(RemoveContainer(uid, c.id, "infra container dead, outdated or duplicate"))

    names = [c.get("name") for c in spec.get("containers") or ()]
    apps: dict[str, list[RuntimeContainer]] = {}
    for c in mine:
        if c.is_infra:
            continue
        if c.container_name not in names:
            removals.append(RemoveContainer(uid, c.id, "container not in the pod spec"))
        else:
            apps.setdefault(c.container_name, []).append(c)

    to_start: list[tuple[str, int]] = []
    keeps = 0
    for container in spec.get("containers") or ():
        cname = container.get("name")
        want = container_hash(container, service_env)
        insts = _newest_first(apps.get(cname, ()))
        keep = None
        replace_anyway = False  # spec or network changed: recreate whatever the policy
        failed_probe = False
        for c in insts:
            if not c.running:
                continue
            if keep is None and infra is not None and c.spec_hash == want and c.infra_id == infra.id \
                    and c.id not in unhealthy:
                keep = c
                continue
            if c.spec_hash != want:
                why, replace_anyway = "spec changed", True
            elif infra is None or c.infra_id != infra.id:
                why, replace_anyway = "infra container replaced", True
            elif c.id in unhealthy:
                why, failed_probe = "liveness probe failed", True
            else:
                why = "duplicate"
            removals.append(StopContainer(uid, c.id, why))
        # keep the newest dead instance (its exit code drives the restart policy); remove older ones
        dead = [c for c in insts if not c.running]
        newest_dead = dead[0] if dead else None
        for c in dead[1:]:
            removals.append(RemoveContainer(uid, c.id, "old dead instance"))
        if keep is not None:
            if newest_dead is not None and newest_dead.created < keep.created:
                pass  # last termination state, kept for status
            keeps += 1
            continue
        restart_count = (max(c.restart_count for c in insts) + 1) if insts else 0
        if not insts:
            to_start.append((cname, 0))
        elif replace_anyway:
            to_start.append((cname, restart_count))
        elif failed_probe:
            if wants_restart(policy, 1):
                to_start.append((cname, restart_count))
        else:
            last = insts[0]
            if last.running:  # a duplicate being stopped while a kept one runs: cannot happen without keep
                continue
            if wants_restart(policy, last.exit_code):
                finished = _ts(last.finished_at)
                backoff = restart_backoff_s(last.restart_count, max_backoff_s)
                if backoff and now and finished and now - finished < backoff:
                    continue  # crash-looping: wait; the periodic resync comes back
                to_start.append((cname, restart_count))

    infra_id = infra.id if infra is not None else ""
    if to_start:
        if infra is None:
            starts.append(StartInfra(uid, pod))
        for cname, rc in to_start:
            starts.append(StartContainer(uid, cname, rc, infra_id, pod))
    return removals + starts


# ---- status ---------------------------------------------------------------------------------------
def creating_reason(image: str) -> str:
    return f"Image: {image} is ready, container is creating"


def pod_status(pod: dict, mine: list[RuntimeContainer], host_ip: str, waiting: dict[str, str] | None = None,
               unhealthy: frozenset[str] | set[str] = frozenset()) -> dict:
    """The pod's status from its containers (internal shape, every field present so it compares).

    ``waiting``: container name -> the reason it could not be started (image pull, runtime refusal).
    """
    waiting = waiting or {}
    spec = pod.get("spec") or {}
    policy = _restart_policy(pod)
    infra = next((c for c in _newest_first(c for c in mine if c.is_infra) if c.running), None)
    statuses = []
    n_running = n_waiting = 0
    all_done, any_failed = True, False
    for container in spec.get("containers") or ():
        cname, image = container.get("name") or "", container.get("image") or ""
        insts = _newest_first(c for c in mine if not c.is_infra and c.container_name == cname)
        restart_count = max((c.restart_count for c in insts), default=0)
        running = next((c for c in insts if c.running), None)
        if running is not None:
            state = {"running": {"startedAt": running.started_at}}
            ready = running.id not in unhealthy
            n_running += 1
            all_done = False
        elif cname in waiting:
            state = {"waiting": {"reason": waiting[cname], "message": ""}}
            ready = False
            n_waiting += 1
            all_done = False
        elif insts:
            last = insts[0]
            state = {"terminated": {"exitCode": last.exit_code, "signal": 0,
                                    "reason": "Completed" if last.exit_code == 0 else "Error",
                                    "message": last.error, "startedAt": last.started_at,
                                    "finishedAt": last.finished_at}}
            ready = False
            if wants_restart(policy, last.exit_code):
                all_done = False
            any_failed = any_failed or last.exit_code != 0
        else:
            state = {"waiting": {"reason": creating_reason(image), "message": ""}}
            ready = False
            n_waiting += 1
            all_done = False
        statuses.append({"name": cname, "image": image, "restartCount": restart_count, "ready": ready,
                         "state": state})
    if statuses and all_done:
        phase = FAILED if any_failed else SUCCEEDED
    elif n_waiting or not statuses:
        phase = PENDING
    else:
        phase = RUNNING
    return {"phase": phase, "hostIP": host_ip, "podIP": infra.ip if infra is not None else "",
            "message": "", "reason": "", "containerStatuses": statuses}


def normalize_status(status: dict | None) -> dict:
    """A status as the API returns it, in the full shape ``pod_status`` builds (for comparisons)."""
    status = status or {}
    out = []
    for cs in status.get("containerStatuses") or ():
        st = cs.get("state") or {}
        if "running" in st:
            state = {"running": {"startedAt": (st["running"] or {}).get("startedAt") or ""}}
        elif "terminated" in st:
            t = st["terminated"] or {}
            state = {"terminated": {"exitCode": t.get("exitCode") or 0, "signal": t.get("signal") or 0,
                                    "reason": t.get("reason") or "", "message": t.get("message") or "",
                                    "startedAt": t.get("startedAt") or "", "finishedAt": t.get("finishedAt") or ""}}
        else:
            w = st.get("waiting") or {}
            state = {"waiting": {"reason": w.get("reason") or "", "message": w.get("message") or ""}}
        out.append({"name": cs.get("name") or "", "image": cs.get("image") or "",
                    "restartCount": cs.get("restartCount") or 0, "ready": bool(cs.get("ready")), "state": state})
    return {"phase": status.get("phase") or PENDING, "hostIP": status.get("hostIP") or "",
            "podIP": status.get("podIP") or "", "message": status.get("message") or "",
            "reason": status.get("reason") or "", "containerStatuses": out}


# ---- container configs ----------------------------------------------------------------------------
def _labels(node: str, pod: dict, uid: str, cname: str, spec_hash: str, restart_count: int,
            infra_id: str = "") -> dict[str, str]:
    labels = {LABEL_MANAGED: "true", LABEL_NODE: node, LABEL_POD_UID: uid, LABEL_POD_NAMESPACE: namespace_of(pod),
              LABEL_POD_NAME: name_of(pod), LABEL_CONTAINER: cname, LABEL_HASH: spec_hash,
              LABEL_RESTART_COUNT: str(restart_count)}
    if infra_id:
        labels[LABEL_INFRA_ID] = infra_id
    return labels


def _rand8(rng: random.Random) -> str:
    return format(rng.getrandbits(32), "08x")


def infra_config(node: str, pod: dict, uid: str, image: str, rng: random.Random) -> ContainerConfig:
    h = infra_hash(pod)
    ports = tuple(PortBinding(p.get("containerPort") or 0, p.get("hostPort") or 0,
                              (p.get("protocol") or "TCP").upper(), p.get("hostIP") or "")
                  for c in (pod.get("spec") or {}).get("containers") or () for p in c.get("ports") or ()
                  if p.get("containerPort"))
    return ContainerConfig(
        name=docker_name(INFRA_NAME, h, name_of(pod), namespace_of(pod), uid, _rand8(rng)), image=image,
        labels=_labels(node, pod, uid, INFRA_NAME, h, 0), hostname=name_of(pod)[:63], ports=ports,
        pull_policy="Never")


def app_config(node: str, pod: dict, uid: str, cname: str, restart_count: int, infra_id: str,
               rng: random.Random, volume_dir: Callable[[str, dict], str] | None = None) -> ContainerConfig:
    spec = pod.get("spec") or {}
    container = next(c for c in spec.get("containers") or () if c.get("name") == cname)
    service_env = spec.get("serviceEnv") or []
    h = container_hash(container, service_env)
    env = tuple(f"{e.get('name')}={e.get('value') or ''}" for e in list(container.get("env") or ()) + list(service_env)
                if e.get("name"))
    limits = (container.get("resources") or {}).get("limits") or {}
    volumes = {v.get("name"): v for v in spec.get("volumes") or ()}
    mounts = []
    for m in container.get("volumeMounts") or ():
        vol = volumes.get(m.get("name"))
        if vol is None or volume_dir is None:
            continue
        path = volume_dir(uid, vol)
        if path:
            mounts.append(Mount(path, m.get("mountPath") or "", bool(m.get("readOnly"))))
    return ContainerConfig(
        name=docker_name(cname, h, name_of(pod), namespace_of(pod), uid, _rand8(rng)),
        image=container.get("image") or "", labels=_labels(node, pod, uid, cname, h, restart_count, infra_id),
        command=tuple(container.get("command") or ()), working_dir=container.get("workingDir") or "", env=env,
        network_of=infra_id, cpu_shares=cpu_shares(int(limits.get("cpu") or 0)),
        memory=int(limits.get("memory") or 0), privileged=bool(container.get("privileged")),
        mounts=tuple(mounts), pull_policy=container.get("imagePullPolicy") or "IfNotPresent")


# ---- pod source (list + watch) --------------------------------------------------------------------
class PodSource:
    """The pods bound to some minions, kept from a list + watch; calls ``listener(node)`` on changes.

    ``fields`` is ``DesiredState.Host=<node>`` for one kubelet, or ``DesiredState.Host!=`` for all bound
    pods (one watch shared by many hollow kubelets).
    """

    def __init__(self, client, fields: str, name: str = "kubelet-watch", retry_s: float = 1.0):
        self.client = client
        self.fields = fields
        self.name = name
        self.retry_s = retry_s
        self._by_node: dict[str, dict[str, dict]] = {}
        self._listeners: dict[str, Callable[[str], None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch = None
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()

    def subscribe(self, node: str, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listeners[node] = listener

    def pods_for(self, node: str) -> dict[str, dict]:
        with self._lock:
            return dict(self._by_node.get(node) or {})

    def start(self) -> "PodSource":
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        w = self._watch
        if w is not None:
            try:
                w.close()  # HttpClient's close wakes the reading thread at once
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _notify(self, nodes: Iterable[str]) -> None:
        with self._lock:
            listeners = [self._listeners[n] for n in set(nodes) if n in self._listeners]
        for fn in listeners:
            fn("pods")

    def _replace_all(self, pods: list[dict]) -> None:
        by_node: dict[str, dict[str, dict]] = {}
        for p in pods:
            by_node.setdefault(pod_node(p), {})[pod_uid(p)] = p
        with self._lock:
            changed = set(self._by_node) | set(by_node)
            self._by_node = by_node
        self._notify(changed)

    def _apply(self, ev_type: str, pod: dict) -> None:
        node, uid = pod_node(pod), pod_uid(pod)
        with self._lock:
            # a pod never moves between nodes, but drop it from wherever it was to be safe
            touched = {n for n, pods in self._by_node.items() if uid in pods}
            old = next((self._by_node[n][uid] for n in touched), None)
            for n in touched:
                self._by_node[n].pop(uid, None)
            if ev_type != "DELETED" and node:
                self._by_node.setdefault(node, {})[uid] = pod
                touched.add(node)
        if old is not None and ev_type != "DELETED" and old.get("spec") == pod.get("spec"):
            return  # a status write (most often the kubelet's own): nothing to sync
        self._notify(touched)

    def _run(self) -> None:
        rv = 0  # 0: (re)list first; else resume the watch after this revision (on any master)
        while not self._stop.is_set():
            try:
                if not rv:
                    pods, rv = self.client.list("Pod", None, fields=self.fields)
                    self._replace_all(pods)
                    self.synced.set()
                self._watch = self.client.watch("Pod", None, fields=self.fields, resource_version=rv)
                if self._stop.is_set():
                    break
                for ev in self._watch:
                    if self._stop.is_set():
                        break
                    if ev is None:
                        continue
                    self._apply(ev.type, ev.object)
                    rv = max(rv, ev.revision)
                if not self._stop.is_set():
                    log.info("pod watch ended; resuming after revision %d", rv)
            except Gone:
                log.info("pod watch: revision %d compacted (410); relisting", rv)
                rv = 0
            except (ApiError, requests.RequestException, OSError, ValueError) as exc:
                if self._stop.is_set():
                    break
                log.warning("pod watch failed (%s); retrying in %.1fs from revision %d", exc, self.retry_s, rv)
                self._stop.wait(self.retry_s)
            finally:
                w, self._watch = self._watch, None
                if w is not None:
                    try:
                        w.close()
                    except Exception:  # noqa: BLE001
                        pass


# ---- status pushes --------------------------------------------------------------------------------
class StatusPusher:
    """Coalescing status writes through the client, on a few threads shared by all kubelets here."""

    def __init__(self, client, threads: int = 2, name: str = "kubelet-status"):
        self.client = client
        self._pending: dict[tuple[str, str], tuple[dict, Callable[[bool], None]]] = {}
        self._order: list[tuple[str, str]] = []
        self._cond = threading.Condition()
        self._stop = False
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(threads)]
        self._busy: set[tuple[str, str]] = set()

    def start(self) -> "StatusPusher":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    def push(self, pod: dict, done: Callable[[bool], None]) -> None:
        key = (namespace_of(pod), name_of(pod))
        with self._cond:
            if key not in self._pending:
                self._order.append(key)
            self._pending[key] = (pod, done)
            self._cond.notify()

    def _next(self):
        with self._cond:
            while True:
                if self._stop:
                    return None
                for i, key in enumerate(self._order):
                    if key not in self._busy:
                        self._order.pop(i)
                        self._busy.add(key)
                        return key, self._pending.pop(key)
                self._cond.wait(1.0)

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            key, (pod, done) = item
            ok = False
            try:
                self.client.update_status(pod)
                ok = True
            except NotFound:
                ok = True  # deleted meanwhile: nothing to report
            except (ApiError, requests.RequestException, OSError) as exc:
                log.warning("status of pod %s/%s not written: %s", key[0], key[1], exc)
            finally:
                with self._cond:
                    self._busy.discard(key)
                    self._cond.notify()
            try:
                done(ok)
            except Exception:  # noqa: BLE001
                log.exception("status callback failed")


# ---- the kubelet ----------------------------------------------------------------------------------
class Kubelet:
    def __init__(self, node: str, client, runtime: ContainerRuntime, source: PodSource, host_ip: str,
                 settings: KubeletSettings = KubeletSettings(), pusher: StatusPusher | None = None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 thread_name: str = "kubelet"):
        self.node = node
        self.client = client
        self.runtime = runtime
        self.source = source
        self.host_ip = host_ip
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.thread_name = thread_name
        self._own_pusher = pusher is None
        self.pusher = pusher or StatusPusher(client, name=f"{thread_name}-status")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._waiting: dict[str, dict[str, str]] = {}  # pod uid -> container -> reason
        self._image_failures: dict[str, tuple[float, str]] = {}  # image -> (until, reason)
        self._unhealthy: set[str] = set()
        self._probe_failures: dict[str, int] = {}
        self._pushed: dict[str, dict] = {}  # pod uid -> last status written
        self._last_actual: list[RuntimeContainer] = []
        self._threads: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix=f"{thread_name}-worker") \
            if settings.workers > 0 else None
        self.syncs = 0

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Kubelet":
        self.source.subscribe(self.node, lambda _why: self._wake.set())
        if self._own_pusher:
            self.pusher.start()
        self._threads = [threading.Thread(target=self._sync_loop, name=self.thread_name, daemon=True)]
        if self.settings.probe_period_s > 0:
            self._threads.append(threading.Thread(target=self._probe_loop, name=f"{self.thread_name}-probe",
                                                  daemon=True))
        for t in self._threads:
            t.start()
        log.info("kubelet %s started", self.node)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=10)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._own_pusher:
            self.pusher.stop()

    def wake(self) -> None:
        self._wake.set()

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.sync_period_s)
            # coalesce a burst of wake-ups (watch events, finished workers) into one round
            if self._stop.wait(self.settings.min_sync_interval_s):
                break
            self._wake.clear()
            if self._stop.is_set():
                break
            if not self.source.synced.is_set():
                continue  # never kill containers before the first list of pods arrived
            try:
                self.sync_once()
            except Exception:  # noqa: BLE001 - the loop must survive an engine hiccup
                log.exception("kubelet %s: sync failed", self.node)
                self._stop.wait(1.0)

    # ---- one round ---------------------------------------------------------------------------
    def sync_once(self) -> list[Action]:
        desired = self.source.pods_for(self.node)
        actual = self.runtime.list_containers()
        now = self.clock()
        with self._lock:
            unhealthy = set(self._unhealthy)
            in_flight = set(self._in_flight)
        actions = [a for a in sync_pods(desired, actual, now, unhealthy, self.settings.max_restart_backoff_s)
                   if a.uid not in in_flight]
        by_pod: dict[str, list[Action]] = {}
        for a in actions:
            by_pod.setdefault(a.uid, []).append(a)
        for uid, acts in by_pod.items():
            if self._pool is None:
                self._run_pod(uid, acts)
            else:
                with self._lock:
                    self._in_flight.add(uid)
                self._pool.submit(self._run_pod, uid, acts)
        if by_pod and self._pool is None:
            actual = self.runtime.list_containers()
        self._last_actual = actual
        self._report(desired, actual, in_flight | (set(by_pod) if self._pool is not None else set()))
        self._forget(desired, actual)
        self.syncs += 1
        return actions

    def _run_pod(self, uid: str, actions: list[Action]) -> None:
        infra_id = ""
        try:
            for a in actions:
                if self._stop.is_set() and not isinstance(a, RemoveContainer):
                    return
                if isinstance(a, RemoveContainer):
                    log.info("kubelet %s: removing container %s (%s)", self.node, a.container_id[:12], a.reason)
                    self.runtime.remove(a.container_id)
                elif isinstance(a, StopContainer):
                    log.info("kubelet %s: stopping container %s (%s)", self.node, a.container_id[:12], a.reason)
                    self.runtime.stop(a.container_id, self.settings.stop_grace_s)
                elif isinstance(a, StartInfra):
                    c = self._start(uid, INFRA_NAME, self.settings.infra_image, "Never",
                                    lambda p=a.pod: infra_config(self.node, p, uid, self.settings.infra_image,
                                                                 self.rng))
                    if c is None:
                        return  # no network: the app containers cannot start either
                    infra_id = c.id
                elif isinstance(a, StartContainer):
                    container = next(c for c in a.pod["spec"]["containers"] if c.get("name") == a.container)
                    net = a.infra_id or infra_id
                    if not net:
                        continue
                    self._start(uid, a.container, container.get("image") or "",
                                container.get("imagePullPolicy") or "IfNotPresent",
                                lambda a=a, net=net: app_config(self.node, a.pod, uid, a.container, a.restart_count,
                                                                net, self.rng, self._volume_dir))
            if not any(isinstance(a, (StartInfra, StartContainer)) for a in actions):
                if all(isinstance(a, RemoveContainer) for a in actions) and uid not in self.source.pods_for(self.node):
                    self._cleanup_pod_dir(uid)
        except Exception:  # noqa: BLE001
            log.exception("kubelet %s: actions for pod %s failed", self.node, uid)
        finally:
            with self._lock:
                self._in_flight.discard(uid)
            if self._pool is not None:
                self._wake.set()

    def _start(self, uid: str, cname: str, image: str, policy: str, make: Callable[[], ContainerConfig]):
        now = self.clock()
        failure = self._image_failures.get(image)
        try:
            if failure is not None and failure[0] > now:
                raise ImageError(failure[1])
            self.runtime.ensure_image(image, policy)
            self._image_failures.pop(image, None)
            config = make()
            c = self.runtime.start(config)
        except ImageError as exc:
            if failure is None or failure[0] <= now:
                log.warning("kubelet %s: pod %s container %s: %s", self.node, uid, cname, exc)
                self._image_failures[image] = (now + self.settings.image_backoff_s, str(exc))
            self._set_waiting(uid, cname, str(exc))
            return None
        except RuntimeFailure as exc:
            log.warning("kubelet %s: pod %s container %s: %s", self.node, uid, cname, exc)
            self._set_waiting(uid, cname, f"container cannot start: {exc}")
            return None
        self._set_waiting(uid, cname, None)
        log.info("kubelet %s: started container %s (%s) of pod %s", self.node, config.name, c.id[:12], uid)
        return c

    def _set_waiting(self, uid: str, cname: str, reason: str | None) -> None:
        with self._lock:
            if reason is None:
                (self._waiting.get(uid) or {}).pop(cname, None)
            else:
                self._waiting.setdefault(uid, {})[cname] = reason

    def _volume_dir(self, uid: str, vol: dict) -> str:
        if vol.get("hostPath"):
            return (vol["hostPath"] or {}).get("path") or ""
        if "emptyDir" in vol or not any(k in vol for k in ("gcePersistentDisk", "gitRepo")):
            path = os.path.join(self.settings.root_dir, "pods", uid, "volumes", vol.get("name") or "")
            os.makedirs(path, exist_ok=True)
            return path
        return ""

    def _cleanup_pod_dir(self, uid: str) -> None:
        path = os.path.join(self.settings.root_dir, "pods", uid)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)

    # ---- status ------------------------------------------------------------------------------
    def _report(self, desired: dict[str, dict], actual: list[RuntimeContainer], busy: set[str]) -> None:
        by_pod: dict[str, list[RuntimeContainer]] = {}
        for c in actual:
            by_pod.setdefault(c.pod_uid, []).append(c)
        with self._lock:
            unhealthy = set(self._unhealthy)
            waiting = {uid: dict(w) for uid, w in self._waiting.items()}
        for uid, pod in desired.items():
            status = pod_status(pod, by_pod.get(uid, []), self.host_ip, waiting.get(uid), unhealthy)
            if status == self._pushed.get(uid) or status == normalize_status(pod.get("status")):
                continue
            self._pushed[uid] = status
            out = {"kind": "Pod", "metadata": {**(pod.get("metadata") or {}), "resourceVersion": 0},
                   "spec": pod.get("spec") or {}, "status": status}
            log.debug("kubelet %s: pod %s/%s -> %s", self.node, namespace_of(pod), name_of(pod), status["phase"])

            def done(ok: bool, uid=uid, status=status) -> None:
                if not ok and self._pushed.get(uid) == status:
                    self._pushed.pop(uid, None)  # try again on the next sync
                    self._wake.set()
            self.pusher.push(out, done)

    def _forget(self, desired: dict[str, dict], actual: list[RuntimeContainer]) -> None:
        ids = {c.id for c in actual if c.running}
        with self._lock:
            for uid in [u for u in self._pushed if u not in desired]:
                del self._pushed[uid]
            for uid in [u for u in self._waiting if u not in desired]:
                del self._waiting[uid]
            self._unhealthy &= ids
            for cid in [c for c in self._probe_failures if c not in ids]:
                del self._probe_failures[cid]

    # ---- views for the HTTP server -----------------------------------------------------------
    def pods_view(self) -> list[dict]:
        desired = self.source.pods_for(self.node)
        actual = self._last_actual
        out = []
        for uid, pod in desired.items():
            mine = [c for c in actual if c.pod_uid == uid]
            with self._lock:
                waiting = dict(self._waiting.get(uid) or {})
            out.append({"namespace": namespace_of(pod), "name": name_of(pod), "uid": uid, "node": self.node,
                        "status": pod_status(pod, mine, self.host_ip, waiting),
                        "containers": [{"id": c.id, "name": c.name, "container": c.container_name,
                                        "running": c.running, "exitCode": c.exit_code, "image": c.image,
                                        "restartCount": c.restart_count} for c in _newest_first(mine)]})
        return out

    def find_container(self, namespace: str, pod: str, container: str) -> RuntimeContainer | None:
        """The newest instance (running first) of a container of a pod, from a fresh listing."""
        cs = [c for c in self.runtime.list_containers()
              if c.labels.get(LABEL_POD_NAMESPACE) == namespace and c.labels.get(LABEL_POD_NAME) == pod
              and c.container_name == container]
        cs.sort(key=lambda c: (c.running, c.created), reverse=True)
        return cs[0] if cs else None

    # ---- liveness probes ---------------------------------------------------------------------
    def _probe_loop(self) -> None:
        while not self._stop.wait(self.settings.probe_period_s):
            try:
                self.probe_once()
            except Exception:  # noqa: BLE001
                log.exception("kubelet %s: probing failed", self.node)

    def probe_once(self) -> None:
        desired = self.source.pods_for(self.node)
        actual = self._last_actual
        now = self.clock()
        failed = False
        for uid, pod in desired.items():
            mine = [c for c in actual if c.pod_uid == uid]
            infra = next((c for c in mine if c.is_infra and c.running), None)
            for container in (pod.get("spec") or {}).get("containers") or ():
                probe = container.get("livenessProbe")
                if not probe:
                    continue
                c = next((c for c in _newest_first(mine) if c.container_name == container.get("name")
                          and c.running), None)
                if c is None or c.id in self._unhealthy:
                    continue
                started = _ts(c.started_at) or c.created
                if now - started < float(probe.get("initialDelaySeconds") or 0):
                    continue
                ok, why = self._probe(probe, container, c, infra.ip if infra else "")
                if ok:
                    self._probe_failures.pop(c.id, None)
                    continue
                log.info("kubelet %s: liveness probe of %s/%s container %s failed: %s", self.node,
                         namespace_of(pod), name_of(pod), container.get("name"), why)
                with self._lock:
                    self._unhealthy.add(c.id)
                failed = True
        if failed:
            self._wake.set()

    def _probe(self, probe: dict, container: dict, c: RuntimeContainer, pod_ip: str) -> tuple[bool, str]:
        timeout = self.settings.probe_timeout_s
        if probe.get("exec"):
            code, out = self.runtime.exec(c.id, list(probe["exec"].get("command") or []), timeout)
            # 2014 wanted the output "ok"; an exit code of 0 (the later rule) is accepted as well
            if out.strip().lower() == "ok" or code == 0:
                return True, ""
            return False, f"exit code {code}, output {out.strip()[:100]!r}"
        if probe.get("httpGet"):
            g = probe["httpGet"]
            host = g.get("host") or pod_ip
            port = _resolve_port(g.get("port"), container)
            path = g.get("path") or "/"
            if not path.startswith("/"):
                path = "/" + path
            try:
                r = requests.get(f"http://{host}:{port}{path}", timeout=timeout)
            except requests.RequestException as exc:
                return False, f"GET {path}: {exc.__class__.__name__}"
            return 200 <= r.status_code < 400, f"GET {path}: HTTP {r.status_code}"
        if probe.get("tcpSocket"):
            port = _resolve_port(probe["tcpSocket"].get("port"), container)
            try:
                with socket.create_connection((pod_ip, port), timeout=timeout):
                    return True, ""
            except OSError as exc:
                return False, f"connect {pod_ip}:{port}: {exc}"
        return True, ""


def _resolve_port(port, container: dict) -> int:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or ():
        if p.get("name") == port:
            return int(p.get("containerPort") or 0)
    return 0
