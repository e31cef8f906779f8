"""The simulated hosts: a network namespace per master on a bridge of its own, all named ``rkv-*``.

Layout (addresses in 10.77.0.0/24, private to namespaces this module made):

    host ── rkv-host (10.77.0.254) ══ veth ══ [rkv-net: bridge rkv-br] ══ veth ══ [rkv-m1: eth0 10.77.0.1]
                                                                       ══ veth ══ [rkv-m2: eth0 10.77.0.2] ...

The bridge sits in a namespace of its own (``rkv-net``), so the host's firewall (Docker's FORWARD policy,
br_netfilter) never sees the traffic between the masters; the host reaches them through one veth, for the
workload's clients. Faults are rules and queueing disciplines inside the masters' namespaces only.

``cleanup()`` removes everything named ``rkv-*`` (namespaces, the host's veth): run at the start (a crashed
earlier run) and at the end, also after Ctrl-C or a failure.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "rkv-"
BRIDGE_NS = "rkv-net"
HOST_IF = "rkv-host"
SUBNET = "10.77.0"
HOST_ADDRESS = f"{SUBNET}.254"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def in_ns(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *args, check=check)


def ours() -> list[str]:
    """The namespaces of ours that exist now (of this run or of an earlier one)."""
    out = sh("ip", "netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def cleanup() -> list[str]:
    """Remove every ``rkv-*`` namespace and the host's ``rkv-host`` veth; return what was removed."""
    removed = []
    for ns in ours():
        sh("ip", "netns", "delete", ns, check=False)  # takes its veth ends, rules and qdiscs with it
        removed.append(ns)
    if sh("ip", "link", "show", HOST_IF, check=False).returncode == 0:
        sh("ip", "link", "delete", HOST_IF, check=False)
        removed.append(HOST_IF)
    return removed


class Network:
    """The bridge and one namespace per name; ``address(name)`` is that host's address."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.addresses = {n: f"{SUBNET}.{i + 1}" for i, n in enumerate(self.names)}

    def ns(self, name: str) -> str:
        return PREFIX + name

    def address(self, name: str) -> str:
        return self.addresses[name]

    def netns_path(self, name: str) -> Path:
        return Path("/run/netns") / self.ns(name)

    def create(self) -> "Network":
        leftovers = cleanup()
        if leftovers:
            log.warning("removed what an earlier run left: %s", ", ".join(leftovers))
        try:
            sh("ip", "netns", "add", BRIDGE_NS)
            in_ns(BRIDGE_NS, "ip", "link", "add", "rkv-br", "type", "bridge")
            in_ns(BRIDGE_NS, "ip", "link", "set", "rkv-br", "up")
            in_ns(BRIDGE_NS, "ip", "link", "set", "lo", "up")
            # the host's way in
            sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", "rkv-h", "netns", BRIDGE_NS)
            in_ns(BRIDGE_NS, "ip", "link", "set", "rkv-h", "master", "rkv-br", "up")
            sh("ip", "addr", "add", f"{HOST_ADDRESS}/24", "dev", HOST_IF)
            sh("ip", "link", "set", HOST_IF, "up")
            for name in self.names:
                ns = self.ns(name)
                sh("ip", "netns", "add", ns)
                in_ns(BRIDGE_NS, "ip", "link", "add", f"rkv-{name}", "type", "veth", "peer", "name", "eth0",
                      "netns", ns)
                in_ns(BRIDGE_NS, "ip", "link", "set", f"rkv-{name}", "master", "rkv-br", "up")
                in_ns(ns, "ip", "addr", "add", f"{self.address(name)}/24", "dev", "eth0")
                in_ns(ns, "ip", "link", "set", "eth0", "up")
                in_ns(ns, "ip", "link", "set", "lo", "up")
                in_ns(ns, "nft", "add", "table", "inet", "rkv")  # where the partitions' rules go
                for hook in ("input", "output"):
                    in_ns(ns, "nft", "add", "chain", "inet", "rkv", hook,
                          f"{{ type filter hook {hook} priority 0 ; policy accept ; }}")
        except Exception:
            cleanup()
            raise
        return self

    def close(self) -> None:
        cleanup()

    def __enter__(self) -> "Network":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- faults on the links (nemesis.py decides which) ------------------------------------------------
    def drop(self, name: str, peer: str, direction: str = "both") -> None:
        """Master ``name`` stops receiving from (``in``), sending to (``out``) or both, the master ``peer``."""
        ns, addr = self.ns(name), self.address(peer)
        if direction in ("in", "both"):
            in_ns(ns, "nft", "add", "rule", "inet", "rkv", "input", "ip", "saddr", addr, "drop")
        if direction in ("out", "both"):
            in_ns(ns, "nft", "add", "rule", "inet", "rkv", "output", "ip", "daddr", addr, "drop")

    def heal(self) -> None:
        """Every partition rule and every netem qdisc gone."""
        for name in self.names:
            ns = self.ns(name)
            in_ns(ns, "nft", "flush", "chain", "inet", "rkv", "input")
            in_ns(ns, "nft", "flush", "chain", "inet", "rkv", "output")
            in_ns(ns, "tc", "qdisc", "del", "dev", "eth0", "root", check=False)

    def netem(self, name: str, spec: list[str], loss_pct: int, rate: str) -> str:
        """A slow, lossy link for master ``name``: ``tc netem`` with ``spec`` (e.g. ``["delay", "50ms", "20ms",
        "loss", "5%", "duplicate", "1%", "reorder", "10%"]``) where the kernel has it; else (a kernel built
        without sch_netem, like this VM's) ``loss_pct`` random loss both ways with nftables and a token
        bucket of ``rate`` on the way out (queueing delay under load; no duplication or reordering).
        Returns what was applied."""
        ns = self.ns(name)
        tried = in_ns(ns, "tc", "qdisc", "replace", "dev", "eth0", "root", "netem", *spec, check=False)
        if tried.returncode == 0:
            return "netem " + " ".join(spec)
        for hook in ("input", "output"):
            in_ns(ns, "nft", "add", "rule", "inet", "rkv", hook, "numgen", "random", "mod", "100", "<",
                  str(loss_pct), "drop")
        in_ns(ns, "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "16kb",
              "latency", "200ms")
        return f"no sch_netem in this kernel: {loss_pct}% loss each way (nft), tbf {rate} out"

    def rules(self, name: str) -> str:
        return in_ns(self.ns(name), "nft", "list", "table", "inet", "rkv").stdout
