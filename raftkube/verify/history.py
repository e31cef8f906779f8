"""The history of a verify run: one JSON object per line, appended as it happens, thread-safe.

Records (``t`` and ``start``/``end`` are seconds since the run started, from one monotonic clock):

- an operation: ``{"type": "op", "id", "process", "master", "f": read|cas|create|delete, "key", "value",
  "old", "new", "start", "end", "outcome": ok|fail|unknown, "status", "error"}``;
- a watch session: ``{"type": "watch", "process", "master", "from_rv", "start", "end", "events": [[rv,
  type, name], ...], "reason": gone|lost|stopped}`` (one per connection; a resume is a new session);
- the nemesis: ``{"type": "fault", "t", "action": start|heal, "fault", "detail", "majority": bool}``
  (``majority``: after this heal a majority of the masters can reach each other and run);
- the end state: ``{"type": "final", "master", "items": {name: value}, "duplicates": [...]}``;
- ``{"type": "meta", ...}`` once at the start (seed, faults, masters, registers' initial values).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path


class History:
    def __init__(self, path: Path | None = None, clock=time.monotonic):
        self.clock = clock
        self.t0 = clock()
        self.records: list[dict] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._file = open(path, "a", encoding="utf-8") if path is not None else None

    def now(self) -> float:
        return round(self.clock() - self.t0, 6)

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def add(self, record: dict) -> dict:
        with self._lock:
            self.records.append(record)
            if self._file is not None:
                self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
                self._file.flush()
        return record

    def fault(self, action: str, fault: str, detail: str, majority: bool = True, **extra) -> dict:
        return self.add({"type": "fault", "t": self.now(), "action": action, "fault": fault, "detail": detail,
                         "majority": majority, **extra})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def load(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
