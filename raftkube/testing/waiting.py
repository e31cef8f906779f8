"""Waiting in tests and benchmarks: poll a condition until a deadline, or check that one holds for a while.

Tests never sleep a fixed time to let something happen; they poll for the state they expect (Kubernetes'
``wait.Poll(interval, timeout, condition)``), with a message that names what did not happen.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def poll_until(predicate: Callable[[], T], timeout_s: float = 10.0, interval_s: float = 0.05,
               what: str = "condition") -> T:
    """Return the first truthy value of ``predicate()``; fail after ``timeout_s``.

    Exceptions raised by ``predicate`` (a master not listening yet, a 503) count as "not yet"; the last one
    is named in the failure.
    """
    deadline = time.monotonic() + timeout_s
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # keep polling through connection errors etc.
            last_exc = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}"
                                 + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval_s)


def holds_for(predicate: Callable[[], object], duration_s: float, interval_s: float = 0.05,
              what: str = "condition") -> None:
    """Assert that ``predicate()`` stays true for a whole observation window (for "nothing happens" checks,
    where there is no event to wait for); fails at the first sample where it is false."""
    deadline = time.monotonic() + duration_s
    while True:
        assert predicate(), f"{what} stopped holding within {duration_s}s"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval_s)


def seconds_until_closed(sock, limit_s: float) -> float:
    """Read ``sock`` until the peer closes it (EOF, a reset, a TLS error) or ``limit_s`` pass; the seconds taken.
    What it reads is discarded: for connections a test expects the other side to cut."""
    started = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - started < limit_s:
        try:
            if sock.recv(4096) == b"":
                break
        except TimeoutError:
            pass
        except OSError:  # ssl.SSLError included
            break
    return time.monotonic() - started
