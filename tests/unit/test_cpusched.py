"""state/cpusched.py: SCHED_BATCH for a process and the threads it starts; the tick thread back to SCHED_OTHER."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies")

# in a child process, so that the test runner keeps its own policy
_CHILD = """
import threading
from raftkube.state.cpusched import batch_process, normal_this_thread, policy_name
out = [policy_name()]
assert batch_process()
out.append(policy_name())
seen = []
def worker():
    seen.append(policy_name())
    normal_this_thread()
    seen.append(policy_name())
t = threading.Thread(target=worker)
t.start()
t.join()
out += seen + [policy_name()]
print(" ".join(out))
"""


def test_batch_process_is_inherited_and_one_thread_can_go_back_to_normal():
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.returncode == 0, out.stderr
    # before, after batch_process, a new thread (inherits batch), that thread after normal_this_thread, main again
    assert out.stdout.split() == ["other", "batch", "batch", "other", "batch"]


def test_normal_this_thread_leaves_a_normal_thread_alone():
    from raftkube.state.cpusched import normal_this_thread, policy_name
    before = policy_name()
    normal_this_thread()
    assert policy_name() == before


def test_policy_name_of_a_thread_that_does_not_exist():
    from raftkube.state.cpusched import policy_name
    assert policy_name(2 ** 22 + 12345) == "unknown"
