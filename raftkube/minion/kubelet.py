"""The kubelet: make the container runtime match the pods bound to this minion, and report their status.

``Kubelet`` is the thin loop that wires the parts, each in its own module (after dask's worker state machine):

* ``planner.py`` (pure): ``sync_pods(desired, actual, now, unhealthy) -> [Action]``, the restart decisions
  and the spec hashes;
* ``pod_status.py`` (pure): a pod's status from its containers;
* ``container_config.py`` (pure): what to create for the infra and app containers, labels and names;
* ``probes.py``: which liveness probes are due (pure) and running them;
* ``executor.py``: one pod's actions carried out against the ``ContainerRuntime``;
* ``status_pusher.py``: coalesced status writes through the client;
* ``pod_source.py``: the pods bound here, from a list + watch shared by every kubelet of the process.

Each round lists the runtime, plans, and runs each pod's actions in a worker (one worker per pod at a
time, as in 2014), then pushes every status that changed. Watch events and finished workers wake the loop;
it also runs every ``sync_period_s``. A probe thread runs the due liveness probes every ``probe_period_s``.

Pod layout (2014): an infra container ``net`` (the pause image) holds the pod IP, hostname and the
hostPort bindings; each app container joins its network namespace, so all share one IP and localhost.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from raftkube.model.objects import ACTIVE_PHASES, name_of, namespace_of, pod_phase
from raftkube.minion.executor import Executor
from raftkube.minion.images import PAUSE_IMAGE
from raftkube.minion.planner import Action, newest_first, parse_time, sync_pods
from raftkube.minion.pod_source import PodSource
from raftkube.minion.pod_status import normalize_status, pod_status
from raftkube.minion.probes import due_probes, run_probe
from raftkube.minion.runtime import LABEL_POD_NAME, LABEL_POD_NAMESPACE, ContainerRuntime, RuntimeContainer
from raftkube.minion.status_pusher import StatusPusher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KubeletSettings:
    """The kubelet's periods and limits (``MinionSettings.kubelet``; hollow minions override a few)."""

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


class Kubelet:
    """The kubelet of one minion: a sync thread (plan, execute, report) and a probe thread."""

    def __init__(self, node: str, client, runtime: ContainerRuntime, source: PodSource, host_ip: str,
                 settings: KubeletSettings = KubeletSettings(), pusher: StatusPusher | None = None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 thread_name: str = "kubelet", metrics=None):
        self.node = node
        self.metrics = metrics  # minion.metrics.MinionMetrics: probe results, pod start latency
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
        self.executor = Executor(node, runtime, bound=lambda uid: uid in self.source.pods_for(self.node),
                                 infra_image=settings.infra_image, stop_grace_s=settings.stop_grace_s,
                                 image_backoff_s=settings.image_backoff_s, root_dir=settings.root_dir,
                                 clock=clock, rng=self.rng)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._unhealthy: set[str] = set()  # container ids whose liveness probe failed
        self._last_probed: dict[str, float] = {}  # container id -> when its probe last ran
        self._pushed: dict[str, dict] = {}  # pod uid -> last status written
        self._started: set[str] = set()  # pod uids this kubelet has reported Running (pod start latency)
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
        try:
            self.executor.run(uid, actions, self._stop)
        except Exception:  # noqa: BLE001
            log.exception("kubelet %s: actions for pod %s failed", self.node, uid)
        finally:
            with self._lock:
                self._in_flight.discard(uid)
            if self._pool is not None:
                self._wake.set()

    # ---- status ------------------------------------------------------------------------------
    def _report(self, desired: dict[str, dict], actual: list[RuntimeContainer], busy: set[str]) -> None:
        by_pod: dict[str, list[RuntimeContainer]] = {}
        for c in actual:
            by_pod.setdefault(c.pod_uid, []).append(c)
        with self._lock:
            unhealthy = set(self._unhealthy)
        waiting = self.executor.waiting()
        for uid, pod in desired.items():
            if pod_phase(pod) not in ACTIVE_PHASES:
                continue  # terminated is final: never reported back to life (see planner.plan_pod)
            status = pod_status(pod, by_pod.get(uid, []), self.host_ip, waiting.get(uid), unhealthy)
            if status == self._pushed.get(uid) or status == normalize_status(pod.get("status")):
                continue
            self._pushed[uid] = status
            if status["phase"] == "Running" and uid not in self._started:
                self._started.add(uid)
                if self.metrics is not None:
                    self.metrics.pod_started(parse_time((pod.get("metadata") or {}).get("creationTimestamp")),
                                             self.clock())
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
        self.executor.forget(desired)
        with self._lock:
            for uid in [u for u in self._pushed if u not in desired]:
                del self._pushed[uid]
            self._started &= desired.keys()
            self._unhealthy &= ids
            for cid in [c for c in self._last_probed if c not in ids]:
                del self._last_probed[cid]

    # ---- views for the HTTP server -----------------------------------------------------------
    def pods_view(self) -> list[dict]:
        desired = self.source.pods_for(self.node)
        actual = self._last_actual
        out = []
        for uid, pod in desired.items():
            mine = [c for c in actual if c.pod_uid == uid]
            waiting = self.executor.waiting_for(uid)
            out.append({"namespace": namespace_of(pod), "name": name_of(pod), "uid": uid, "node": self.node,
                        "status": pod_status(pod, mine, self.host_ip, waiting),
                        "containers": [{"id": c.id, "name": c.name, "container": c.container_name,
                                        "running": c.running, "exitCode": c.exit_code, "image": c.image,
                                        "restartCount": c.restart_count} for c in newest_first(mine)]})
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
        """Run the probes that are due; a failure marks the container unhealthy and wakes the sync loop.

        The loop waits ``probe_period_s`` after each round and a round records its start as the last probe
        time, so every round probes each running container once (as long as the clock moves forward)."""
        now = self.clock()
        with self._lock:
            unhealthy = set(self._unhealthy)
            last_probed = dict(self._last_probed)
        due = due_probes(self.source.pods_for(self.node), self._last_actual, now, unhealthy=unhealthy,
                         last_probed=last_probed, period_s=self.settings.probe_period_s)
        failed = False
        for p in due:
            with self._lock:
                self._last_probed[p.instance.id] = now
            ok, why = run_probe(self.runtime, p, self.settings.probe_timeout_s)
            if self.metrics is not None:
                self.metrics.probed(p.probe, ok)
            if ok:
                continue
            log.info("kubelet %s: liveness probe of %s/%s container %s failed: %s", self.node,
                     namespace_of(p.pod), name_of(p.pod), p.container.get("name"), why)
            with self._lock:
                self._unhealthy.add(p.instance.id)
            failed = True
        if failed:
            self._wake.set()
