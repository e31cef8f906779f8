"""v1beta1 endpoints (``endpoints: ["ip:port", ...]``, IPv6 as ``[ip]:port``) <-> internal ``subsets``.

The list converts to subsets in its order (a run of entries on one port is one subset), so it reads back
in the order it was written, duplicates included. Validation causes about subsets are reported per list
entry, as 2014 did: ``endpoints[i]: required value`` for a missing IP, ``endpoints[i]: invalid value
'ip:port' (the port must be 1-65535)``.
"""

from __future__ import annotations

import re
from typing import Callable

from raftkube.apis.v1beta1.reader import Reader
from raftkube.model.endpoints import endpoint_pairs, subsets_from_pairs
from raftkube.model.errors import Cause, FieldErrors


def endpoints_from_wire(r: Reader, body: dict) -> dict:
    pairs = []
    for i, s in enumerate(r.list_(body, "endpoints", "")):
        path = f"endpoints[{i}]"
        if not isinstance(s, str):
            r.errs.invalid(path, s, "must be a string 'ip:port'")
            continue
        host, sep, port = s.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not sep or not port.isdigit():
            r.errs.invalid(path, s, "must be 'ip:port'")
            continue
        pairs.append((host, int(port)))
    return {"subsets": subsets_from_pairs(pairs)}


def _entry(ip: str, port) -> str:
    return f"[{ip}]:{port or 0}" if ":" in ip else f"{ip}:{port or 0}"


def endpoints_to_wire(obj: dict) -> dict:
    return {"endpoints": [_entry(ip, port) for ip, port in endpoint_pairs(obj)]}


_ADDRESS_IP = re.compile(r"subsets\[(\d+)\]\.addresses\[(\d+)\]\.ip")
_PORT = re.compile(r"subsets\[(\d+)\]\.ports\[(\d+)\]\.port")


def endpoints_causes_to_wire(obj: dict | None, causes: list[Cause],
                              translate: Callable[[Cause], Cause]) -> list[Cause]:
    """The validation causes of an internal Endpoints object in v1beta1 terms.

    Causes about addresses and ports become causes of the list entries of ``endpoints_to_wire(obj)``: an
    entry with a missing IP is one ``required`` cause (its port is not checked then), an entry with a bad
    port one ``invalid`` cause naming ``ip:port``. The other causes (metadata) go through ``translate``
    and come first; a cause no entry shows (an address of a subset without ports) keeps its path.
    """
    bad_ip: dict[tuple[int, int], Cause] = {}
    bad_port: dict[tuple[int, int], Cause] = {}
    others = []
    for c in causes:
        if m := _ADDRESS_IP.fullmatch(c.field):
            bad_ip[(int(m[1]), int(m[2]))] = c
        elif c.reason == "FieldValueInvalid" and (m := _PORT.fullmatch(c.field)):
            bad_port[(int(m[1]), int(m[2]))] = c
        else:
            others.append(translate(c))
    errs = FieldErrors()
    addresses_seen, ports_seen = set(), set()
    n = 0
    for i, subset in enumerate((obj or {}).get("subsets") or ()):
        subset = subset or {}
        ports = [p or {} for p in subset.get("ports") or ()]
        for j, address in enumerate(subset.get("addresses") or ()):
            ip = (address or {}).get("ip") or ""
            for k, port in enumerate(ports):
                if (i, j) in bad_ip:
                    errs.required(f"endpoints[{n}]")
                elif (i, k) in bad_port:
                    errs.invalid(f"endpoints[{n}]", f"{ip}:{port.get('port') or 0}", "the port must be 1-65535")
                addresses_seen.add((i, j))
                ports_seen.add((i, k))
                n += 1
    unshown = ([c for key, c in bad_ip.items() if key not in addresses_seen]
               + [c for key, c in bad_port.items() if key not in ports_seen])
    return others + errs.causes + unshown
