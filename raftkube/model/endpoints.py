"""Endpoints ``subsets`` and the flat ``(ip, port)`` pairs the endpoints controller and the proxy think in.

An Endpoints object lists ``subsets``; every address of a subset serves every port of that subset. The pairs
of a subset are address-major (each address with each port, in order); the pairs of an object are those of
its subsets in order. ``subsets_from_pairs`` is the inverse for a list of pairs: consecutive pairs on the
same port share one subset, so the pairs come back in the same order, duplicates included.
"""

from __future__ import annotations

from typing import Iterable

Pair = tuple[str, int]  # (ip, port)


def endpoint_pairs(endpoints: dict | None, port_name: str | None = None) -> list[Pair]:
    """The ``(ip, port)`` pairs of an Endpoints object, in order; ``port_name`` keeps only ports of that name."""
    out: list[Pair] = []
    for subset in (endpoints or {}).get("subsets") or ():
        subset = subset or {}
        ports = [p or {} for p in subset.get("ports") or ()]
        if port_name is not None:
            ports = [p for p in ports if (p.get("name") or "") == port_name]
        for address in subset.get("addresses") or ():
            ip = (address or {}).get("ip") or ""
            out.extend((ip, p.get("port") or 0) for p in ports)
    return out


def subsets_from_pairs(pairs: Iterable[Pair], port_name: str = "") -> list[dict]:
    """Subsets holding ``pairs`` in their order (a run of pairs on one port is one subset); a non-empty
    ``port_name`` names every port."""
    subsets: list[dict] = []
    last_port = None
    for ip, port in pairs:
        if not subsets or port != last_port:
            entry = {"port": port, "name": port_name} if port_name else {"port": port}
            subsets.append({"addresses": [], "ports": [entry]})
            last_port = port
        subsets[-1]["addresses"].append({"ip": ip})
    return subsets
