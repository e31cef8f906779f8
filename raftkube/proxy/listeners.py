"""Listener bookkeeping, pure: which service ports to open, move and close (K04 host-port mode).

Each service wants one listener on every minion, ``(port, protocol)`` of its first port. Given what each
service wants and what is open now, ``plan_listeners`` says what to close and what to open; a port change is
a close of the old listener and an open of the new one (a move). Closes come first, so two services can swap
ports in one sync. Two services that want the same port and protocol cannot both have it: the one holding it
keeps it, otherwise the first by (namespace, name); the other is a conflict, reported and retried on every
sync.
A listener that failed to open is simply not "open", so the next sync tries again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable

from raftkube.model.objects import name_of, namespace_of

Key = Hashable  # (namespace, name)


@dataclass(frozen=True, order=True)
class Listener:
    port: int
    protocol: str = "TCP"  # "TCP" | "UDP"

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol.lower()}"


@dataclass
class ListenerPlan:
    close: list[tuple[Key, Listener]] = field(default_factory=list)
    open: list[tuple[Key, Listener]] = field(default_factory=list)
    conflicts: list[tuple[Key, Listener, Key]] = field(default_factory=list)  # (key, wanted, holder)

    @property
    def moves(self) -> list[tuple[Key, Listener, Listener]]:
        """(key, old, new) for each service whose listener moves."""
        opened = dict(self.open)
        return [(k, old, opened[k]) for k, old in self.close if k in opened]

    def empty(self) -> bool:
        return not (self.close or self.open)


def service_port(service: dict) -> dict:
    """The port of a service the proxy serves: its first one (a 2014 service has exactly one)."""
    ports = (service.get("spec") or {}).get("ports") or ()
    return (ports[0] or {}) if ports else {}


def service_listener(service: dict) -> Listener | None:
    """The listener a service object wants; None when it has no usable port."""
    port = service_port(service)
    try:
        number = int(port.get("port") or 0)
    except (TypeError, ValueError):
        return None
    if not 0 < number < 65536:
        return None
    proto = (port.get("protocol") or "TCP").upper()
    return Listener(number, "UDP" if proto == "UDP" else "TCP")


def desired_listeners(services) -> dict[Key, Listener]:
    out = {}
    for svc in services:
        want = service_listener(svc)
        if want is not None:
            out[(namespace_of(svc), name_of(svc))] = want
    return out


def plan_listeners(desired: dict[Key, Listener], current: dict[Key, Listener]) -> ListenerPlan:
    """What to close and open so that ``current`` (key -> open listener) becomes ``desired``."""
    plan = ListenerPlan()
    held: dict[Listener, Key] = {}
    for key, have in sorted(current.items(), key=lambda kv: repr(kv[0])):
        if desired.get(key) != have:
            plan.close.append((key, have))
        else:
            held[have] = key
    for key, want in sorted(desired.items(), key=lambda kv: repr(kv[0])):
        if current.get(key) == want:
            continue
        holder = held.get(want)
        if holder is not None:
            plan.conflicts.append((key, want, holder))
            continue
        held[want] = key
        plan.open.append((key, want))
    return plan
