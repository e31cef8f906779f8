"""Node lifecycle: a minion whose heartbeat is older than the grace period becomes NotReady; after a
further eviction delay its active pods are marked Failed (reason NodeLost), so replication managers
replace them elsewhere. A minion that heartbeats again is Ready (the heartbeat itself says so)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from raftkube.controllers.base import Controller
from raftkube.model.errors import ApiError, Conflict, NotFound, NotLeader
from raftkube.model.objects import ACTIVE_PHASES, FAILED, name_of, namespace_of, pod_phase

log = logging.getLogger(__name__)

NODE_LOST = "NodeLost"


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str | None) -> float | None:
    if not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def ready_condition(node: dict) -> dict | None:
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond
    return None


def last_heartbeat(node: dict) -> float | None:
    """The Ready condition's lastHeartbeatTime, or the creation time for a minion never heard from."""
    cond = ready_condition(node) or {}
    return parse_time(cond.get("lastHeartbeatTime")) or parse_time((node.get("metadata") or {})
                                                                   .get("creationTimestamp"))


@dataclass(frozen=True)
class NodePlan:
    mark_not_ready: bool = False  # write Ready=Unknown
    evict: bool = False  # fail the minion's active pods


def plan_node(node: dict, now: float, grace_s: float, eviction_delay_s: float) -> NodePlan:
    hb = last_heartbeat(node)
    if hb is None:
        return NodePlan()
    age = now - hb
    if age <= grace_s:
        return NodePlan()
    cond = ready_condition(node)
    currently_ready = cond is None or cond.get("status") == "True"
    return NodePlan(mark_not_ready=currently_ready, evict=age > grace_s + eviction_delay_s)


class NodeLifecycleController(Controller):
    name = "nodes"

    def __init__(self, client, *, grace_period_s: float = 40.0, eviction_delay_s: float = 20.0,
                 check_period_s: float = 1.0, clock=time.time, **kw):
        super().__init__(client, clock=clock, **kw)
        self.grace_period_s = grace_period_s
        self.eviction_delay_s = eviction_delay_s
        self.check_period_s = check_period_s
        self.node_informer = self.informer("Node")
        self.informers = [self.node_informer]

    def next_deadline_s(self) -> float | None:
        return self.check_period_s

    def reconcile(self) -> None:
        now = self.clock()
        for node in sorted(self.node_informer.items(), key=name_of):
            if self.stop_event.is_set():
                return
            plan = plan_node(node, now, self.grace_period_s, self.eviction_delay_s)
            if plan.mark_not_ready:
                self._mark_not_ready(node, now)
            if plan.evict:
                self._evict(node)

    def _mark_not_ready(self, node: dict, now: float) -> None:
        name = name_of(node)
        status = dict(node.get("status") or {})
        conds = [c for c in status.get("conditions") or () if c.get("type") != "Ready"]
        old = ready_condition(node) or {}
        conds.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                      "message": f"minion {name} stopped posting heartbeats",
                      "lastHeartbeatTime": old.get("lastHeartbeatTime") or "",
                      "lastTransitionTime": rfc3339(now)})
        status["conditions"] = conds
        obj = dict(node)
        obj["status"] = status
        try:
            written = self.client.update_status(obj)  # carries the resourceVersion: a fresh heartbeat wins
            self.node_informer.store_local(written)
            log.warning("minion %s is NotReady: no heartbeat for over %.0f s", name, self.grace_period_s)
        except NotLeader:
            raise
        except (Conflict, NotFound):
            pass  # it heartbeated (or went away) meanwhile: the next pass looks again
        except ApiError as exc:
            log.warning("minion %s: marking NotReady failed: %s", name, exc)

    def _evict(self, node: dict) -> None:
        name = name_of(node)
        try:
            pods, _rev = self.client.list("Pod", fields=f"spec.nodeName={name}")
        except NotLeader:
            raise
        except ApiError as exc:
            log.warning("minion %s: listing its pods failed: %s", name, exc)
            return
        for pod in pods:
            if pod_phase(pod) not in ACTIVE_PHASES or self.stop_event.is_set():
                continue
            obj = dict(pod)
            status = dict(pod.get("status") or {})
            status.update(phase=FAILED, reason=NODE_LOST,
                          message=f"minion {name} is lost: no heartbeat for over "
                                  f"{self.grace_period_s + self.eviction_delay_s:.0f} s")
            obj["status"] = status
            try:
                self.client.update_status(obj)
                log.warning("pod %s/%s marked Failed: minion %s is lost", namespace_of(pod), name_of(pod), name)
            except NotLeader:
                raise
            except (Conflict, NotFound):
                pass
            except ApiError as exc:
                log.warning("pod %s/%s: eviction failed: %s", namespace_of(pod), name_of(pod), exc)
