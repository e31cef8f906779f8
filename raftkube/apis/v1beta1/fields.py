"""v1beta1 field selectors (``fields=DesiredState.Host=``, ``currentState.status=Running``) over internal fields.

Each v1beta1 key names an internal field and, where v1beta1 shows that field differently, how it shows it:
a pod's ``currentState.status`` compares ``Waiting``/``Running``/``Terminated`` (its phase as v1beta1 shows
it), ``status.phase`` the internal phase itself. The HTTP client goes the other way: the internal fields a
caller selects on are sent under their 2014 names (``selector_to_wire``).
"""

from __future__ import annotations

from raftkube.apis.v1beta1.event import api_version_view
from raftkube.apis.v1beta1.pod import phase_to_wire
from raftkube.model.errors import BadRequest
from raftkube.model.selectors import NODE_NAME, FieldSelector, FieldTerm, View, parse_terms

Field = tuple[str, View | None]  # (internal field, how v1beta1 shows its value; None = as it is)

_COMMON: dict[str, Field] = {
    **dict.fromkeys(("name", "metadata.name", "id", "ID"), ("metadata.name", None)),
    **dict.fromkeys(("namespace", "metadata.namespace"), ("metadata.namespace", None)),
}

#: v1beta1 key -> internal field, per internal kind (every other kind has the common keys)
FIELDS: dict[str, dict[str, Field]] = {
    "Pod": {
        **_COMMON,
        **dict.fromkeys(("DesiredState.Host", "desiredState.host", "spec.host", NODE_NAME), (NODE_NAME, None)),
        **dict.fromkeys(("DesiredState.Status", "desiredState.status", "CurrentState.Status", "currentState.status"),
                        ("status.phase", phase_to_wire)),
        "status.phase": ("status.phase", None),
    },
    "Event": {
        **_COMMON,
        **{f"involvedObject.{f}": (f"involvedObject.{f}", None)
           for f in ("kind", "namespace", "name", "uid", "resourceVersion", "fieldPath")},
        "involvedObject.apiVersion": ("involvedObject.apiVersion", api_version_view),
        **{f: (f, None) for f in ("status", "reason", "source")},
    },
}

#: what the HTTP client sends for an internal field (the others are sent as they are: v1beta1 knows them)
WIRE_KEYS = {NODE_NAME: "DesiredState.Host"}


def parse_field_selector(kind: str, s: str | None) -> FieldSelector:
    """Parse a v1beta1 field selector for internal ``kind``; an unknown key is ``field label not supported``."""
    keys = FIELDS.get(kind, _COMMON)
    terms = []
    for t in parse_terms(s or ""):
        if t.key not in keys:
            raise BadRequest(f"field label not supported: {t.key}")
        field, view = keys[t.key]
        terms.append(FieldTerm(field, t.op, t.value, view, t.key))
    return FieldSelector(kind, tuple(terms))


def selector_to_wire(s: str) -> str:
    """A selector over internal fields as the HTTP client sends it: each key renamed, the rest as written."""
    parts = []
    for part in s.split(","):
        for token in ("!=", "==", "="):
            i = part.find(token)
            if i > 0:
                part = WIRE_KEYS.get(part[:i], part[:i]) + part[i:]
                break
        parts.append(part)
    return ",".join(parts)
