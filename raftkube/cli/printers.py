"""How kubecfg prints v1beta1 objects: the 2014 tables (``pkg/kubecfg/resource_printer.go``), JSON and YAML.

Pure functions over v1beta1 WIRE dicts (what the API returns), returning text; no click, no I/O.

Tables are laid out like Go's ``tabwriter.NewWriter(out, 20, 5, 3, ' ', 0)``: every column but the last
is as wide as its widest cell plus 3 spaces of padding, and at least 20; the last column is not padded.
A header row, a row of ``----------`` per column, the rows, and a blank line after the printed object.
The first header cell is ``ID``, as in Kubernetes v0.4 (the version the article shows).
"""

from __future__ import annotations

import json
from typing import Callable, Iterable, Mapping, Sequence

import yaml

from raftkube.model.selectors import format_labels

MIN_WIDTH = 20
PADDING = 3
SEPARATOR = "----------"
UNASSIGNED = "<unassigned>"

POD_COLUMNS = ("ID", "Image(s)", "Host", "Labels", "Status")
RC_COLUMNS = ("ID", "Image(s)", "Selector", "Replicas")
SERVICE_COLUMNS = ("ID", "Labels", "Selector", "Port")
MINION_COLUMNS = ("Minion identifier",)
STATUS_COLUMNS = ("Status",)
EVENT_COLUMNS = ("Name", "Kind", "Status", "Reason", "Message")
ENDPOINTS_COLUMNS = ("ID", "Endpoints")
MASTER_COLUMNS = ("Name", "URL", "Role", "Leader", "Term", "Commit index", "Applied index", "Store used/quota",
                  "Reachable")


class UnprintableError(ValueError):
    """An object of a kind that has no table."""


def tabulate(rows: Iterable[Sequence[object]]) -> str:
    """Lay out rows of cells like Go's tabwriter (minwidth 20, padding 3, spaces); the last cell is not padded."""
    lines = [[str(c) for c in row] for row in rows]
    ncols = max((len(r) for r in lines), default=0)
    widths = []
    for j in range(ncols - 1):
        cells = [r[j] for r in lines if len(r) > j + 1]  # only cells followed by a tab form a column
        widths.append(max([MIN_WIDTH] + [len(c) + PADDING for c in cells]))
    out = []
    for r in lines:
        text = "".join(c.ljust(widths[j]) for j, c in enumerate(r[:-1]))
        out.append(text + (r[-1] if r else ""))
    return "".join(line + "\n" for line in out)


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Header, a ``----------`` per column, the rows; then the blank line kubecfg prints after an object."""
    return tabulate([list(columns), [SEPARATOR] * len(columns), *rows]) + "\n"


# --- rows, one per kind -------------------------------------------------------------------------------

def _images(manifest: Mapping | None) -> str:
    return ",".join((c or {}).get("image") or "" for c in (manifest or {}).get("containers") or ())


def pod_host(current_state: Mapping | None) -> str:
    """``<unassigned>`` if there is neither host nor hostIP, else ``host/hostIP`` (``minion-1/`` without an IP)."""
    cs = current_state or {}
    host, ip = cs.get("host") or "", cs.get("hostIP") or ""
    if not host and not ip:
        return UNASSIGNED
    return f"{host}/{ip}"


def pod_row(pod: Mapping) -> list:
    desired = pod.get("desiredState") or {}
    current = pod.get("currentState") or {}
    return [pod.get("id") or "", _images(desired.get("manifest")), pod_host(current),
            format_labels(pod.get("labels")), current.get("status") or ""]


def rc_row(rc: Mapping) -> list:
    desired = rc.get("desiredState") or {}
    template = (desired.get("podTemplate") or {}).get("desiredState") or {}
    return [rc.get("id") or "", _images(template.get("manifest")), format_labels(desired.get("replicaSelector")),
            desired.get("replicas") or 0]


def service_row(svc: Mapping) -> list:
    return [svc.get("id") or "", format_labels(svc.get("labels")), format_labels(svc.get("selector")),
            svc.get("port") or 0]


def minion_row(minion: Mapping) -> list:
    return [minion.get("id") or ""]


def status_row(status: Mapping) -> list:
    return [status.get("status") or ""]


def event_row(event: Mapping) -> list:
    io = event.get("involvedObject") or {}
    return [io.get("name") or "", io.get("kind") or "", event.get("status") or "", event.get("reason") or "",
            event.get("message") or ""]


def endpoints_row(ep: Mapping) -> list:
    return [ep.get("id") or "", ",".join(ep.get("endpoints") or ())]


_TABLES: dict[str, tuple[Sequence[str], Callable[[Mapping], list]]] = {
    "Pod": (POD_COLUMNS, pod_row),
    "ReplicationController": (RC_COLUMNS, rc_row),
    "Service": (SERVICE_COLUMNS, service_row),
    "Minion": (MINION_COLUMNS, minion_row),
    "Status": (STATUS_COLUMNS, status_row),
    "Event": (EVENT_COLUMNS, event_row),
    "Endpoints": (ENDPOINTS_COLUMNS, endpoints_row),
}


def human(obj: Mapping) -> str:
    """The 2014 table of one object or of a list (``PodList``, ``MinionList``, ...), by its wire ``kind``."""
    kind = obj.get("kind") or ""
    is_list = kind.endswith("List") and kind[:-4] in _TABLES
    base = kind[:-4] if is_list else kind
    if base not in _TABLES:
        raise UnprintableError(f"no table for objects of kind {kind!r}")
    columns, row = _TABLES[base]
    if is_list:
        items = obj.get("items")
        if items is None and base == "Minion":
            items = obj.get("minions")
        return table(columns, [row(i) for i in items or ()])
    return table(columns, [row(obj)])


def to_json(obj: object) -> str:
    return json.dumps(obj, indent=2) + "\n"


def to_yaml(obj: object) -> str:
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=False)


FORMATS = ("human", "json", "yaml")


def render(obj: Mapping, fmt: str = "human") -> str:
    """``obj`` printed as ``human`` (the table), ``json`` or ``yaml``."""
    if fmt == "json":
        return to_json(obj)
    if fmt == "yaml":
        return to_yaml(obj)
    if fmt == "human":
        return human(obj)
    raise ValueError(f"unknown output format {fmt!r} (known: {', '.join(FORMATS)})")


# --- raftkube status ----------------------------------------------------------------------------------

def format_bytes(n: int) -> str:
    """A byte count for people: ``512B``, ``19.5KiB``, ``2.0GiB``."""
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{int(value)}B" if unit == "B" else f"{value:.1f}{unit}"


def _store_cell(st: Mapping) -> str:
    """Used/quota of a master's store (``storeBytes``/``quotaBytes`` in /raft), e.g. ``1.2MiB/2.0GiB``."""
    used, quota = st.get("storeBytes"), st.get("quotaBytes")
    if used is None:
        return "?"
    return format_bytes(used) + ("/" + format_bytes(quota) if quota else "")


def masters_table(rows: Iterable[Mapping]) -> str:
    """``raftkube status``: one row per master from its ``/raft`` answer, or ``unreachable``.

    Each row is ``{"url", "name"?, "reachable": bool, "raft": {...}?, "error": str?}``.
    """
    out = []
    for r in rows:
        st = r.get("raft") or {}
        if r.get("reachable"):
            out.append([st.get("name") or r.get("name") or "?", r.get("url") or "", st.get("role") or "",
                        st.get("leader") or "<none>", st.get("term", ""), st.get("commitIndex", ""),
                        st.get("appliedIndex", ""), _store_cell(st), "yes"])
        else:
            out.append([r.get("name") or "?", r.get("url") or "", "-", "-", "-", "-", "-", "-",
                        "no" + (f" ({r['error']})" if r.get("error") else "")])
    return table(MASTER_COLUMNS, out)
