"""The nemesis: faults injected on a seeded schedule, each start and heal in the history with its time.

Faults (``--faults``): ``kill`` (kill -9 of a master, often the leader; restart), ``pause`` (SIGSTOP, then
SIGCONT), ``partition`` (with nftables inside the masters' namespaces: the leader isolated, a random
minority/majority split, a non-transitive "bridge" where two masters cannot talk but both reach the third,
one-way loss where a master stops hearing the others), ``netem`` (a slow, lossy link: netem.py's
``Network.netem``), ``power`` (one, two or all masters lose power: unsynced data dropped by lazyfs, booted
again). Each fault lasts a few seconds, then heals; then the cluster is left alone for ``quiet_s``, so the
recovery after each heal is measured before the next fault.
"""

from __future__ import annotations

import logging
import random
import threading

from raftkube.verify.cluster import Cluster
from raftkube.verify.history import History

log = logging.getLogger(__name__)

FAULTS = ("kill", "pause", "partition", "netem", "power")


class Nemesis:
    def __init__(self, cluster: Cluster, history: History, faults: list[str], seed: int, *,
                 fault_s: tuple[float, float] = (2.0, 6.0), quiet_s: float = 5.0):
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {', '.join(FAULTS)}")
        self.cluster, self.net, self.history = cluster, cluster.net, history
        self.faults = list(faults)
        self.rng = random.Random(seed)
        self.fault_s, self.quiet_s = fault_s, quiet_s
        self.stop = threading.Event()
        self.count = 0
        self.errors: list[str] = []

    def _target(self) -> str:
        """The leader half of the time (when there is one), else any master."""
        names = self.cluster.names
        if self.rng.random() < 0.5:
            leader = self.cluster.leader()
            if leader in names:
                return leader
        return self.rng.choice(names)

    def run(self, until_s: float) -> None:
        """Faults until ``until_s`` (history time) or ``stop``; everything healed at the end."""
        if not self.faults:
            self.stop.wait(max(0.0, until_s - self.history.now()))
            return
        while not self.stop.is_set() and self.history.now() + self.fault_s[0] < until_s:
            kind = self.rng.choice(self.faults)
            hold = self.rng.uniform(*self.fault_s)
            hold = min(hold, max(0.5, until_s - self.history.now()))
            try:
                getattr(self, f"_{kind}")(hold)
            except Exception as exc:  # a fault that could not be applied is reported, the run goes on
                log.exception("fault %s failed", kind)
                self.errors.append(f"{kind}: {exc}")
                self.heal_all()
            self.count += 1
            if self.stop.wait(self.quiet_s):
                break

    def heal_all(self) -> None:
        self.net.heal()
        for name in list(self.cluster.paused):
            self.cluster.resume(name)
        for name in self.cluster.names:
            if name not in self.cluster.procs:
                self.cluster.start(name)

    def _hold(self, hold: float) -> None:
        self.stop.wait(hold)

    # ---- the faults ---------------------------------------------------------------------------------------
    def _kill(self, hold: float) -> None:
        name = self._target()
        detail = f"kill -9 {name}#{self.count}"
        self.cluster.kill(name)
        self.history.fault("start", "kill", detail)
        self._hold(hold)
        self.cluster.start(name)
        self.history.fault("heal", "kill", detail)

    def _pause(self, hold: float) -> None:
        name = self._target()
        detail = f"pause {name}#{self.count}"
        self.cluster.pause(name)
        self.history.fault("start", "pause", detail)
        self._hold(hold)
        self.cluster.resume(name)
        self.history.fault("heal", "pause", detail)

    def _partition(self, hold: float) -> None:
        names = self.cluster.names
        shape = self.rng.choice(["isolate-leader", "minority", "bridge", "one-way"])
        if shape == "isolate-leader" or shape == "minority":
            alone = self.cluster.leader() if shape == "isolate-leader" else self.rng.choice(names)
            alone = alone if alone in names else self.rng.choice(names)
            for other in names:
                if other != alone:
                    self.net.drop(alone, other)
            detail = f"partition {shape} {alone} | {','.join(n for n in names if n != alone)}"
        elif shape == "bridge":
            middle = self.rng.choice(names)
            a, b = [n for n in names if n != middle][:2]
            self.net.drop(a, b)
            detail = f"partition bridge {a} x {b} (both reach {middle})"
        else:
            deaf = self._target()
            for other in names:
                if other != deaf:
                    self.net.drop(deaf, other, "in")
            detail = f"partition one-way {deaf} hears nobody"
        detail += f"#{self.count}"
        self.history.fault("start", "partition", detail)
        self._hold(hold)
        self.net.heal()
        self.history.fault("heal", "partition", detail)

    def _netem(self, hold: float) -> None:
        names = self.cluster.names
        who = names if self.rng.random() < 0.3 else [self.rng.choice(names)]
        loss = self.rng.choice([5, 10, 20])
        applied = ""
        for name in who:
            applied = self.net.netem(name, ["delay", "50ms", "30ms", "loss", f"{loss}%", "duplicate", "2%",
                                            "reorder", "10%"], loss, self.rng.choice(["1mbit", "4mbit"]))
        detail = f"netem {','.join(who)}: {applied}#{self.count}"
        self.history.fault("start", "netem", detail)
        self._hold(hold)
        self.net.heal()
        self.history.fault("heal", "netem", detail)

    def _power(self, hold: float) -> None:
        names = self.cluster.names
        n = self.rng.choice([1, 1, 2, len(names)])
        who = self.rng.sample(names, n)
        detail = f"power loss {','.join(sorted(who))}#{self.count}"
        self.history.fault("start", "power", detail)
        lost = self.cluster.power_cut(who)  # kill -9, drop unsynced data, boot again
        self.history.fault("heal", "power", detail, dropped_bytes=lost)
