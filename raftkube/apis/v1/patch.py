"""PATCH bodies on v1 wire objects: JSON merge patch (RFC 7386), a minimal strategic merge patch
(K8S-V1.md §9: maps merge, ``null`` deletes, lists of objects merge by their key, other lists replace) and
JSON patch (RFC 6902, the ``jsonpatch`` package: a list of add/remove/replace/move/copy/test operations)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import jsonpointer

from raftkube.model.errors import BadRequest, Invalid

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON = "application/json-patch+json"
TYPES = (JSON, MERGE, STRATEGIC)


def json_patch(target: Any, patch: Any) -> Any:
    """RFC 6902 ``patch`` applied to a copy of ``target``. A body that is not a list of operations is a 400;
    an operation that cannot apply (a failed ``test``, a missing path) is a 422, as Kubernetes answers."""
    if not isinstance(patch, list) or not all(isinstance(op, dict) and all(isinstance(op.get(k, ""), str)
                                                                          for k in ("op", "path", "from"))
                                              for op in patch):
        raise BadRequest("a JSON patch must be a list of operations such as "
                         '[{"op": "replace", "path": "/metadata/labels/app", "value": "x"}]')
    doc = copy.deepcopy(target)
    for i, op in enumerate(patch):  # one at a time, so that an error names its operation
        try:
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
        except jsonpatch.InvalidJsonPatch as exc:
            raise BadRequest(f"invalid JSON patch: operation {i}: {exc}") from None
        except jsonpatch.JsonPatchTestFailed:
            raise Invalid(f"the JSON patch could not be applied: operation {i}: test failed: the value at "
                          f"{op['path']} is not {json.dumps(op.get('value'))}") from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise Invalid(f"the JSON patch could not be applied: operation {i} ({op.get('op')} {op.get('path')}): "
                          f"{exc}") from None
    return doc

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
