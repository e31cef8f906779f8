"""Label and field selectors in the 2014 syntax (``pkg/labels/selector.go``, ``pkg/registry/*/rest.go``).

A selector is comma-separated terms, ANDed: ``key=value``, ``key==value`` or ``key!=value``. There is no
whitespace trimming and no set syntax. A missing label (or field) counts as the empty string, so
``env!=prod`` matches objects without ``env`` and ``env=`` matches them too. An empty selector matches all.

core/v1 also takes Kubernetes' set-based terms (``parse_set_selector``): ``key in (a,b)``, ``key notin (a,b)``
(true where the label is missing), ``key`` (it exists) and ``!key`` (it does not); whitespace around tokens is
ignored and keys and values must be valid label keys and values. The equality terms mean what they mean above.

Field selectors use the same syntax; their keys name fixed per-kind fields of the internal object
(``FIELD_GETTERS``): ``spec.nodeName=`` selects unbound pods, ``spec.nodeName!=`` bound ones. An API version
parses the keys of its own wire (``parse_terms``) and builds ``FieldTerm``s over these fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from raftkube.model.errors import BadRequest
from raftkube.model.objects import name_of, namespace_of, pod_node, pod_phase

EQUALS, NOT_EQUALS = "=", "!="
IN, NOT_IN, EXISTS, NOT_EXISTS = "in", "notin", "exists", "!"


@dataclass(frozen=True)
class Term:
    """One ``key=value`` (``op`` ``=``) or ``key!=value`` (``op`` ``!=``) requirement."""

    key: str
    op: str
    value: str

    def matches(self, actual: str) -> bool:
        return (actual == self.value) if self.op == EQUALS else (actual != self.value)

    def holds(self, labels: Mapping[str, str]) -> bool:
        return self.matches(labels.get(self.key, ""))

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


@dataclass(frozen=True)
class SetTerm:
    """A set-based requirement: ``key in (values)``, ``key notin (values)``, ``key`` or ``!key``."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def holds(self, labels: Mapping[str, str]) -> bool:
        if self.op == IN:
            return self.key in labels and labels[self.key] in self.values
        if self.op == NOT_IN:
            return labels.get(self.key) not in self.values
        return (self.key in labels) == (self.op == EXISTS)

    def __str__(self) -> str:
        if self.op in (IN, NOT_IN):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        return self.key if self.op == EXISTS else f"!{self.key}"


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

    terms: tuple[Term | SetTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(t.holds(labels) for t in self.terms)

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def parse_label_selector(s: str | None) -> LabelSelector:
    """Parse ``name=redis,env!=prod``; ``None`` or ``""`` gives the selector that matches everything."""
    return LabelSelector(parse_terms(s or ""))


_KEY = r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
_SET_TERM = re.compile(rf"(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)")
_EQ_TERM = re.compile(rf"(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>[^\s]*)")
_EXISTS_TERM = re.compile(rf"(?P<not>!?)\s*(?P<key>{_KEY})")


def _top_level_parts(s: str) -> list[str]:
    """``s`` split at the commas outside parentheses; unbalanced parentheses are an error."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
        if depth not in (0, 1):
            raise BadRequest(f"unable to parse requirement: unbalanced parentheses in '{s}'")
    if depth:
        raise BadRequest(f"unable to parse requirement: unbalanced parentheses in '{s}'")
    return parts + [s[start:]]


def _set_term(part: str, whole: str) -> Term | SetTerm:
    m = _SET_TERM.fullmatch(part)
    if m:
        values = tuple(sorted({v.strip() for v in m["values"].split(",")}))
        if values == ("",):
            raise BadRequest(f"unable to parse requirement: for 'in', 'notin' operators, values set can't be empty: "
                             f"'{part}'")
        bad = [v for v in values if not _VALUE.fullmatch(v) or v == ""]
        if bad:
            raise BadRequest(f"unable to parse requirement: invalid label value: '{bad[0]}' in '{part}'")
        return SetTerm(m["key"], m["op"], values)
    m = _EQ_TERM.fullmatch(part)
    if m:
        if not _VALUE.fullmatch(m["value"]):
            raise BadRequest(f"unable to parse requirement: invalid label value: '{m['value']}' in '{part}'")
        return Term(m["key"], NOT_EQUALS if m["op"] == NOT_EQUALS else EQUALS, m["value"])
    m = _EXISTS_TERM.fullmatch(part)
    if m:
        return SetTerm(m["key"], NOT_EXISTS if m["not"] else EXISTS)
    raise BadRequest(f"unable to parse requirement: invalid selector: '{whole}'; can't understand '{part}'")


def parse_set_selector(s: str | None) -> LabelSelector:
    """Parse a Kubernetes label selector with set-based terms (``app in (a,b),!canary,tier``); an empty
    string matches everything, a bad term is a 400 naming it."""
    if not (s or "").strip():
        return LabelSelector()
    terms = [_set_term(part.strip(), s) for part in _top_level_parts(s)]
    return LabelSelector(tuple(sorted(terms, key=str)))


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
