"""Label and field selectors in the 2014 syntax (``pkg/labels/selector.go``, ``pkg/registry/*/rest.go``).

A selector is comma-separated terms, ANDed: ``key=value``, ``key==value`` or ``key!=value``. There is no
whitespace trimming and no set syntax. A missing label (or field) counts as the empty string, so
``env!=prod`` matches objects without ``env`` and ``env=`` matches them too. An empty selector matches all.

Field selectors use the same syntax; their keys name fixed per-kind fields of the INTERNAL object
(see ``FIELD_GETTERS``). The scheduler relies on ``DesiredState.Host=`` (unbound pods) and
``DesiredState.Host!=`` (bound pods).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from raftkube.model.errors import BadRequest
from raftkube.model.objects import name_of, namespace_of, pod_node, pod_phase

EQUALS, NOT_EQUALS = "=", "!="


@dataclass(frozen=True)
class Term:
    """One ``key=value`` (``op`` ``=``) or ``key!=value`` (``op`` ``!=``) requirement."""

    key: str
    op: str
    value: str

    def matches(self, actual: str) -> bool:
        return (actual == self.value) if self.op == EQUALS else (actual != self.value)

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


def _parse_terms(s: str) -> tuple[Term, ...]:
    """Split a selector string into sorted terms; a term without ``=`` (or with an empty key) is an error."""
    terms = []
    for part in sorted(s.split(",")):
        if part == "":
            continue
        for token, op in (("!=", NOT_EQUALS), ("==", EQUALS), ("=", EQUALS)):
            i = part.find(token)
            if i > 0:
                terms.append(Term(part[:i], op, part[i + len(token):]))
                break
        else:
            raise BadRequest(f"invalid selector: '{s}'; can't understand '{part}'")
    return tuple(terms)


@dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector; ``matches`` takes an object's label map."""

    terms: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(t.matches(labels.get(t.key, "")) for t in self.terms)

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def parse_label_selector(s: str | None) -> LabelSelector:
    """Parse ``name=redis,env!=prod``; ``None`` or ``""`` gives the selector that matches everything."""
    return LabelSelector(_parse_terms(s or ""))


def selector_from_map(d: Mapping[str, str] | None) -> LabelSelector:
    """The selector requiring every ``k=v`` of ``d`` (an RC's replicaSelector, a service's selector)."""
    return LabelSelector(tuple(Term(k, EQUALS, v) for k, v in sorted((d or {}).items())))


def format_labels(d: Mapping[str, str] | None) -> str:
    """Render a map as kubecfg prints it: sorted ``k=v`` joined by ``,``; an empty map is ``""``."""
    return ",".join(f"{k}={v}" for k, v in sorted((d or {}).items()))


# --- field selectors -------------------------------------------------------------------------------

Getter = Callable[[dict], str]

_WIRE_STATUS = {"Pending": "Waiting", "Running": "Running", "Succeeded": "Terminated", "Failed": "Terminated"}


def _pod_wire_status(pod: dict) -> str:
    return _WIRE_STATUS.get(pod_phase(pod), "Waiting")


def _get(*path: str) -> Getter:
    def getter(obj: dict) -> str:
        cur = obj
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return "" if cur is None else str(cur)
    return getter


_COMMON: dict[str, Getter] = {
    **dict.fromkeys(("name", "metadata.name", "id", "ID"), name_of),
    **dict.fromkeys(("namespace", "metadata.namespace"), namespace_of),
}

HOST_KEYS = frozenset(("DesiredState.Host", "desiredState.host", "spec.host", "spec.nodeName"))

FIELD_GETTERS: dict[str, dict[str, Getter]] = {
    "Pod": {
        **_COMMON,
        **dict.fromkeys(HOST_KEYS, pod_node),
        **dict.fromkeys(("DesiredState.Status", "desiredState.status", "CurrentState.Status",
                         "currentState.status"), _pod_wire_status),
        "status.phase": pod_phase,
    },
    "Event": {
        **_COMMON,
        **{f"involvedObject.{f}": _get("involvedObject", f)
           for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        **{f: _get(f) for f in ("status", "reason", "source")},
    },
}


@dataclass(frozen=True)
class FieldSelector:
    """A parsed field selector bound to one internal kind; ``matches`` takes an internal object."""

    kind: str
    terms: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, obj: dict) -> bool:
        getters = FIELD_GETTERS.get(self.kind, _COMMON)
        return all(t.matches(getters[t.key](obj)) for t in self.terms)

    def required_node(self) -> str | None:
        """The node an equality term on the pod host pins (``""`` = unbound), else None."""
        if self.kind != "Pod":
            return None
        for t in self.terms:
            if t.op == EQUALS and t.key in HOST_KEYS:
                return t.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def parse_field_selector(kind: str, s: str | None) -> FieldSelector:
    """Parse a field selector for internal ``kind``; an unknown key is ``field label not supported``."""
    terms = _parse_terms(s or "")
    getters = FIELD_GETTERS.get(kind, _COMMON)
    for t in terms:
        if t.key not in getters:
            raise BadRequest(f"field label not supported: {t.key}")
    return FieldSelector(kind, terms)
