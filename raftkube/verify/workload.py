"""The workload of a verify run: clients on every master, each op recorded in the history (history.py).

Per master, one thread of each:

- **registers**: pick a register (a service ``r-K`` whose label ``v`` is the value), GET it (a ``read``),
  then PUT it with the read's resourceVersion and a value never written before (a ``cas`` from the read
  value to the new one);
- **creates**: POST services ``c-<master>-<n>`` (unique names); every fourth acknowledged one is deleted
  again a little later (``delete``);
- **watches**: list, then watch services from the list's revision; after a lost connection resume from the
  last revision received (on the next master), after 410 Gone list again. One history record per session.

Outcomes: ``ok`` (2xx; a GET's 404 is an ok read of "absent"), ``fail`` (a 4xx, which guarantees the op had
no effect), ``unknown`` (a timeout, a lost connection, a 5xx: it may apply later, or never). Clients pace
themselves a little (the masters share two cores with the nemesis and the checkers).
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from typing import Callable

import requests

from raftkube.testing.waiting import poll_until
from raftkube.verify.history import History

SERVICES = "/api/v1beta1/services"
TIMEOUT_S = 6.0  # over the masters' write timeout (5 s), so a 503 arrives before the client gives up
PACE_S = 0.02


def service(name: str, labels: dict | None = None) -> dict:
    return {"id": name, "kind": "Service", "apiVersion": "v1beta1", "port": 9000, "containerPort": 80,
            "selector": {"verify": name}, "labels": labels or {}}


def outcome(status: int) -> str:
    return "ok" if status < 300 else "fail" if status < 500 else "unknown"


class Workload:
    def __init__(self, history: History, urls: dict[str, str], registers: int = 3, seed: int = 0,
                 new_session: Callable[[], requests.Session] = requests.Session):
        self.history = history
        self.new_session = new_session  # a session with the cluster's CA and a credential (cluster.py)
        self.urls = urls  # master -> base URL
        self.masters = list(urls)
        self.registers = [f"r-{k}" for k in range(registers)]
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self._watch_sessions: list[requests.Response] = []
        self._lock = threading.Lock()

    # ---- setup and the end -------------------------------------------------------------------------------
    def setup(self, timeout_s: float = 30.0) -> dict:
        """Create the registers (value ``init``); returns their initial values for the history's meta."""
        url = self.urls[self.masters[0]] + SERVICES
        with self.new_session() as session:
            def created(name):
                r = session.post(url, json=service(name, {"v": "init"}), timeout=TIMEOUT_S)
                return r.status_code in (200, 201, 409)
            for name in self.registers:
                poll_until(lambda: created(name), timeout_s, 0.2, what=f"register {name} created")
        return {name: "init" for name in self.registers}

    def start(self) -> "Workload":
        for i, master in enumerate(self.masters):
            for target, what in ((self._registers, "cas"), (self._creates, "create"), (self._watches, "watch")):
                seed = self.rng.randrange(1 << 30)
                t = threading.Thread(target=self._client, args=(target, master, random.Random(seed)),
                                     name=f"{what}-{master}", daemon=True)
                self.threads.append(t)
        for t in self.threads:
            t.start()
        return self

    def _client(self, target, master: str, rng: random.Random) -> None:
        with self.new_session() as session:
            target(session, master, rng)

    def finish(self) -> None:
        self.stop.set()
        with self._lock:
            for resp in self._watch_sessions:
                resp.close()
        for t in self.threads:
            t.join(timeout=TIMEOUT_S + 5)

    def final_reads(self) -> None:
        """One read of every register on every master (so the last values are observed)."""
        with self.new_session() as session:
            for master in self.masters:
                for key in self.registers:
                    self._read(session, master, "final", key)

    def final_states(self) -> None:
        """Every master's services (local state, after the masters converged) as ``final`` records."""
        with self.new_session() as session:
            for master in self.masters:
                items = session.get(self.urls[master] + SERVICES + "?resourceVersion=0",
                                    timeout=TIMEOUT_S).json()["items"]
                names = [s["id"] for s in items if s["id"].startswith("c-")]
                dups = sorted({n for n in names if names.count(n) > 1})
                self.history.add({"type": "final", "master": master, "items": {n: None for n in names},
                                  "duplicates": dups})

    # ---- one op ---------------------------------------------------------------------------------------------
    def _op(self, process: str, master: str, f: str, key: str, call, **fields) -> tuple[dict, requests.Response | None]:
        rec = {"type": "op", "id": self.history.next_id(), "process": process, "master": master, "f": f, "key": key,
               **fields, "start": self.history.now()}
        resp = None
        try:
            resp = call()
            rec["status"] = resp.status_code
            rec["outcome"] = outcome(resp.status_code)
            if resp.status_code >= 300:
                rec["error"] = resp.text[:200]
        except requests.RequestException as exc:
            rec["outcome"], rec["error"] = "unknown", type(exc).__name__
        rec["end"] = self.history.now()
        return rec, resp

    def _read(self, session, master: str, process: str, key: str) -> dict | None:
        url = f"{self.urls[master]}{SERVICES}/{key}"
        rec, resp = self._op(process, master, "read", key, lambda: session.get(url, timeout=TIMEOUT_S))
        obj = None
        if resp is not None and resp.status_code == 404:
            rec["outcome"], rec["value"] = "ok", None
        elif rec["outcome"] == "ok":
            obj = resp.json()
            rec["value"] = (obj.get("labels") or {}).get("v")
        self.history.add(rec)
        return obj

    # ---- the clients ----------------------------------------------------------------------------------------
    def _registers(self, session: requests.Session, master: str, rng: random.Random) -> None:
        process = f"cas-{master}"
        for n in itertools.count():
            if self.stop.wait(PACE_S):
                return
            key = rng.choice(self.registers)
            obj = self._read(session, master, process, key)
            if obj is None:
                continue
            old = obj["labels"]["v"]
            new = f"{master}-{n}"
            body = {**obj, "labels": {**obj["labels"], "v": new}}
            url = f"{self.urls[master]}{SERVICES}/{key}"
            rec, _ = self._op(process, master, "cas", key, lambda: session.put(url, json=body, timeout=TIMEOUT_S),
                              old=old, new=new)
            self.history.add(rec)

    def _creates(self, session: requests.Session, master: str, rng: random.Random) -> None:
        process = f"create-{master}"
        to_delete: list[str] = []
        for n in itertools.count():
            if self.stop.wait(PACE_S):
                return
            if to_delete and rng.random() < 0.5:
                name = to_delete.pop(0)
                url = f"{self.urls[master]}{SERVICES}/{name}"
                rec, _ = self._op(process, master, "delete", name, lambda: session.delete(url, timeout=TIMEOUT_S))
                self.history.add(rec)
                continue
            name = f"c-{master}-{n}"
            url = self.urls[master] + SERVICES
            rec, _ = self._op(process, master, "create", name,
                              lambda: session.post(url, json=service(name), timeout=TIMEOUT_S))
            self.history.add(rec)
            if rec["outcome"] == "ok" and n % 4 == 0:
                to_delete.append(name)

    def _watches(self, session: requests.Session, master: str, rng: random.Random) -> None:
        process = f"watch-{master}"
        masters = itertools.cycle(self.masters[self.masters.index(master):] + self.masters[:self.masters.index(master)])
        at = next(masters)
        cursor = None
        while not self.stop.is_set():
            if cursor is None:  # (re)list: the watch starts at the list's revision
                try:
                    r = session.get(self.urls[at] + SERVICES, timeout=TIMEOUT_S)
                    if r.status_code != 200:
                        raise requests.RequestException(r.status_code)
                    cursor = int(r.json()["resourceVersion"])
                except (requests.RequestException, ValueError, KeyError):
                    at = next(masters)
                    self.stop.wait(0.2)
                    continue
            cursor, reason = self._watch_session(session, at, process, cursor)
            if reason == "gone":
                cursor = None
            if reason != "stopped":
                at = next(masters)

    def _watch_session(self, session, master: str, process: str, cursor: int) -> tuple[int | None, str]:
        rec = {"type": "watch", "process": process, "master": master, "from_rv": cursor,
               "start": self.history.now(), "events": []}
        reason = "lost"
        try:
            resp = session.get(self.urls[master] + "/api/v1beta1/watch" + SERVICES.split("/api/v1beta1")[1],
                               params={"resourceVersion": str(cursor)}, stream=True, timeout=(TIMEOUT_S, 20))
            with self._lock:
                self._watch_sessions.append(resp)
            try:
                if resp.status_code == 410:
                    reason = "gone"
                elif resp.status_code == 200:
                    for line in resp.iter_lines(chunk_size=1):
                        if self.stop.is_set():
                            reason = "stopped"
                            break
                        if not line.strip():
                            continue
                        ev = json.loads(line)
                        if ev["type"] == "ERROR":
                            reason = "gone" if ev["object"].get("code") == 410 else "lost"
                            break
                        rv = int(ev["object"]["resourceVersion"])
                        rec["events"].append([rv, ev["type"], ev["object"]["id"]])
                        cursor = rv
            finally:
                resp.close()
                with self._lock:
                    self._watch_sessions.remove(resp)
        except (requests.RequestException, ValueError, AttributeError):
            if self.stop.is_set():
                reason = "stopped"
        rec["end"], rec["reason"] = self.history.now(), reason
        self.history.add(rec)
        return cursor, reason
