"""Node lifecycle: a minion whose heartbeat is older than the grace period becomes NotReady; after a
further eviction delay its active pods are marked Failed (reason NodeLost), so replication managers
replace them elsewhere. A minion that heartbeats again is Ready (the heartbeat itself says so).

A heartbeat's age is measured with this leader's clock, from when the leader saw that heartbeat arrive (a
new ``lastHeartbeatTime``), never from the minion's own timestamp: a minion whose clock is off is not
evicted, and a leader that just took over gives every minion a full grace period from then (it has seen
nothing yet), so a long master outage does not fail every pod at once. When most minions are NotReady
together (a control-plane or network problem, Kubernetes' unhealthy zone), nothing is evicted."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from raftkube.controllers.base import Controller
from raftkube.controllers.events import EventRecorder
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


def heartbeat_token(node: dict) -> str:
    """What changes with every heartbeat: the Ready condition's lastHeartbeatTime (creation time if none)."""
    cond = ready_condition(node) or {}
    return cond.get("lastHeartbeatTime") or (node.get("metadata") or {}).get("creationTimestamp") or ""


# Kubernetes' node lifecycle controller: a zone with at least this share of its nodes NotReady is unhealthy
UNHEALTHY_SHARE = 0.55


def disrupted(not_ready: int, total: int) -> bool:
    """Most minions NotReady at once (all of them, or >= 55% of three or more): blame the control plane or
    the network, not the minions, and evict nobody."""
    return total > 0 and (not_ready == total or (total >= 3 and not_ready >= UNHEALTHY_SHARE * total))


@dataclass(frozen=True)
class NodePlan:
    mark_not_ready: bool = False  # write Ready=Unknown
    evict: bool = False  # fail the minion's active pods


def plan_node(node: dict, age: float, grace_s: float, eviction_delay_s: float) -> NodePlan:
    """``age``: seconds since this leader saw the minion's latest heartbeat arrive."""
    if age <= grace_s:
        return NodePlan()
    cond = ready_condition(node)
    currently_ready = cond is None or cond.get("status") == "True"
    return NodePlan(mark_not_ready=currently_ready, evict=age > grace_s + eviction_delay_s)


class NodeLifecycleController(Controller):
    name = "nodes"

    def __init__(self, client, *, grace_period_s: float = 40.0, eviction_delay_s: float = 20.0,
                 check_period_s: float = 1.0, clock=time.time, events: EventRecorder | None = None, **kw):
        super().__init__(client, clock=clock, **kw)
        self.events = events if events is not None else EventRecorder(client, "node-controller", threads=0)
        self.grace_period_s = grace_period_s
        self.eviction_delay_s = eviction_delay_s
        self.check_period_s = check_period_s
        self.node_informer = self.informer("Node")
        self.informers = [self.node_informer]
        self._heard: dict[str, tuple[str, float]] = {}  # minion -> (heartbeat token, when this leader saw it)
        self._holding = False  # evictions held back because most minions are NotReady

    def next_deadline_s(self) -> float | None:
        return self.check_period_s

    def heartbeat_age(self, node: dict, now: float) -> float:
        token, name = heartbeat_token(node), name_of(node)
        heard = self._heard.get(name)
        if heard is None or heard[0] != token:
            heard = self._heard[name] = (token, now)
        return now - heard[1]

    def reconcile(self) -> None:
        now = self.clock()
        nodes = sorted(self.node_informer.items(), key=name_of)
        names = {name_of(n) for n in nodes}
        for gone in set(self._heard) - names:
            del self._heard[gone]
        plans = [(node, plan_node(node, self.heartbeat_age(node, now), self.grace_period_s, self.eviction_delay_s))
                 for node in nodes]
        not_ready = sum(1 for node, plan in plans if plan.mark_not_ready or not self._is_ready(node))
        hold = disrupted(not_ready, len(nodes))
        if hold != self._holding:
            self._holding = hold
            if hold:
                message = (f"{not_ready} of {len(nodes)} minions are NotReady at once: assuming a control-plane "
                           "or network problem, evicting no pods until most are Ready again")
                log.warning("%s", message)
                for node in nodes:
                    self.events.record(node, "EvictionsHeld", message)
            else:
                log.info("most minions are Ready again: evictions resume")
        for node, plan in plans:
            if self.stop_event.is_set():
                return
            if plan.mark_not_ready:
                self._mark_not_ready(node, now)
            if plan.evict and not hold:
                self._evict(node)

    @staticmethod
    def _is_ready(node: dict) -> bool:
        cond = ready_condition(node)
        return cond is None or cond.get("status") == "True"

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
