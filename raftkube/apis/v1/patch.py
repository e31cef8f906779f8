"""PATCH bodies on v1 wire objects: JSON merge patch (RFC 7386) and a minimal strategic merge patch
(K8S-V1.md §9: maps merge, ``null`` deletes, lists of objects merge by their key, other lists replace)."""

from __future__ import annotations

import copy
from typing import Any

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"

#: list field -> the key its elements merge by (strategic merge patch)
_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
         "imagePullSecrets": "name", "ports": None, "volumeMounts": "mountPath", "conditions": "type"}


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _port_key(items: list) -> str:
    return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"


def strategic_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and k in _KEYS and all(isinstance(i, dict) for i in v):
            cur = list(out.get(k) or [])
            key = _KEYS[k] or _port_key(v + cur)
            for item in v:
                idx = next((i for i, c in enumerate(cur) if isinstance(c, dict) and c.get(key) == item.get(key)),
                           None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        cur.pop(idx)
                elif idx is None:
                    cur.append(strategic_patch({}, item))
                else:
                    cur[idx] = strategic_patch(cur[idx], item)
            order = patch.get(f"$setElementOrder/{k}")
            if isinstance(order, list):
                rank = {o.get(key): n for n, o in enumerate(order) if isinstance(o, dict)}
                cur.sort(key=lambda c: rank.get(c.get(key), len(rank)))
            out[k] = cur
        elif isinstance(v, dict):
            out[k] = strategic_patch(out.get(k), v)
        else:
            out[k] = copy.deepcopy(v)
    return out
