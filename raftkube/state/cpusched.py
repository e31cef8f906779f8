"""Linux scheduling policies of a master's threads: SCHED_BATCH for all of them but the Raft tick thread.

A master's threads pass the GIL to each other several times per request (the waitress loop hands a request
to a worker; the tick thread sets the Events of the writers whose entry applied and wakes the informers; the
informers wake the controllers). Under SCHED_OTHER a woken thread preempts the one that woke it when both
share a CPU (masters are pinned to one CPU each, master.py): the waker, which still holds the GIL, is
descheduled, the woken thread finds the GIL taken and blocks, and the GIL holder waits in the run queue
behind every other runnable process of that CPU. py-spy (``--gil``) of a follower under 32 concurrent
creates on this loaded VM showed a third of the GIL-holding samples inside ``Condition.notify``.

A SCHED_BATCH thread does not preempt the running thread when it is woken (the kernel skips wakeup
preemption for it); it runs when the CPU is next given out, by then usually with the GIL free. Its CPU
share (nice value, weight) is unchanged. The Raft tick thread stays SCHED_OTHER, so a Raft message or a
proposal still gets it running at once (heartbeats, elections and the commit path keep their latency).

Non-Linux systems and kernels that refuse the call keep their policies: scheduling is an optimisation here,
never a condition of correctness.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

_BATCH = getattr(os, "SCHED_BATCH", None)
_OTHER = getattr(os, "SCHED_OTHER", None)


def _set(tid: int, policy: int) -> bool:
    try:
        os.sched_setscheduler(tid, policy, os.sched_param(0))
        return True
    except ProcessLookupError:  # a thread that just ended
        return True
    except OSError as exc:
        log.info("cannot change the scheduling policy of thread %d: %s", tid, exc)
        return False


def batch_process() -> bool:
    """Every thread of this process, and (by inheritance) every thread it starts later: SCHED_BATCH.
    False if the system has no such policy or refused it."""
    if _BATCH is None or not hasattr(os, "sched_setscheduler"):
        return False
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    return all([_set(tid, _BATCH) for tid in tids])


def normal_this_thread() -> None:
    """The calling thread back to SCHED_OTHER if it runs SCHED_BATCH (the Raft tick thread, at its start)."""
    if _BATCH is None or not hasattr(os, "sched_getscheduler"):
        return
    try:
        if os.sched_getscheduler(0) == _BATCH:
            _set(0, _OTHER)
    except OSError:
        pass


def policy_name(tid: int = 0) -> str:
    """``batch``, ``other`` or another policy's number, of a thread (0: the caller): for tests and /raft."""
    try:
        policy = os.sched_getscheduler(tid)
    except (AttributeError, OSError):  # not Linux, or a thread that ended
        return "unknown"
    return {_BATCH: "batch", _OTHER: "other"}.get(policy, str(policy))
