"""Label and field selectors in the 2014 syntax (``pkg/labels/selector.go``, ``pkg/registry/*/rest.go``).

A selector is comma-separated terms, ANDed: ``key=value``, ``key==value`` or ``key!=value``. There is no
whitespace trimming and no set syntax. A missing label (or field) counts as the empty string, so
``env!=prod`` matches objects without ``env`` and ``env=`` matches them too. An empty selector matches all.

Field selectors use the same syntax; their keys name fixed per-kind fields of the internal object
(``FIELD_GETTERS``): ``spec.nodeName=`` selects unbound pods, ``spec.nodeName!=`` bound ones. An API version
parses the keys of its own wire (``parse_terms``) and builds ``FieldTerm``s over these fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

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


def parse_terms(s: str) -> tuple[Term, ...]:
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
    return LabelSelector(parse_terms(s or ""))


def selector_from_map(d: Mapping[str, str] | None) -> LabelSelector:
    """The selector requiring every ``k=v`` of ``d`` (an RC's replicaSelector, a service's selector)."""
    return LabelSelector(tuple(Term(k, EQUALS, v) for k, v in sorted((d or {}).items())))


def format_labels(d: Mapping[str, str] | None) -> str:
    """Render a map as kubecfg prints it: sorted ``k=v`` joined by ``,``; an empty map is ``""``."""
    return ",".join(f"{k}={v}" for k, v in sorted((d or {}).items()))


# --- field selectors -------------------------------------------------------------------------------

Getter = Callable[[dict], Any]
View = Callable[[Any], Any]


def _get(*path: str) -> Getter:
    """The value at ``path`` of an object, None where it is missing."""
    def getter(obj: dict):
        cur = obj
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return cur
    return getter


_COMMON: dict[str, Getter] = {"metadata.name": name_of, "metadata.namespace": namespace_of}

NODE_NAME = "spec.nodeName"
INVOLVED_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")

#: the fields a selector may name, per internal kind (every other kind has the common ones)
FIELD_GETTERS: dict[str, dict[str, Getter]] = {
    "Pod": {**_COMMON, NODE_NAME: pod_node, "status.phase": pod_phase},
    "Event": {
        **_COMMON,
        **{f"involvedObject.{f}": _get("involvedObject", f) for f in INVOLVED_FIELDS},
        **{f: _get(f) for f in ("status", "reason", "source")},
    },
}


def field_getters(kind: str) -> dict[str, Getter]:
    return FIELD_GETTERS.get(kind, _COMMON)


@dataclass(frozen=True)
class FieldTerm:
    """One requirement on an internal field; ``view`` shows the field's value as the API version the selector
    was written for does (a v1beta1 pod status is ``Waiting``, not ``Pending``); None compares it as it is.
    ``key`` is how the selector spelled the field, for messages."""

    field: str
    op: str
    value: str
    view: View | None = None
    key: str = ""

    def matches(self, actual) -> bool:
        if self.view is not None:
            actual = self.view(actual)
        actual = "" if actual is None else str(actual)
        return (actual == self.value) if self.op == EQUALS else (actual != self.value)

    def __str__(self) -> str:
        return f"{self.key or self.field}{self.op}{self.value}"


@dataclass(frozen=True)
class FieldSelector:
    """A parsed field selector bound to one internal kind; ``matches`` takes an internal object."""

    kind: str
    terms: tuple[FieldTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, obj: dict) -> bool:
        getters = field_getters(self.kind)
        return all(t.matches(getters[t.field](obj)) for t in self.terms)

    def required_node(self) -> str | None:
        """The node an equality term on the pod's node pins (``""`` = unbound), else None."""
        if self.kind != "Pod":
            return None
        for t in self.terms:
            if t.op == EQUALS and t.field == NODE_NAME and t.view is None:
                return t.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def parse_field_selector(kind: str, s: str | None) -> FieldSelector:
    """Parse a field selector over the internal fields of ``kind`` (``spec.nodeName=``, ``metadata.name=redis``);
    an unknown field is ``field label not supported``."""
    getters = field_getters(kind)
    terms = []
    for t in parse_terms(s or ""):
        if t.key not in getters:
            raise BadRequest(f"field label not supported: {t.key}")
        terms.append(FieldTerm(t.key, t.op, t.value))
    return FieldSelector(kind, tuple(terms))
