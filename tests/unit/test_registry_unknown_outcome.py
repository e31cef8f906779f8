"""A write whose outcome was unknown is never answered with a definite refusal it cannot be sure of.

Found by `raftkube verify` (seed 20, 600 s): a PUT on a master cut off by a partition while its entry was
committing applied, another client's PUT changed the object after it, and the re-submit's Conflict was answered
409, although the first attempt had taken effect (the history had a read of the value the "refused" PUT wrote).
"""

import copy

import pytest

from raftkube.model.errors import Timeout
from raftkube.registry import Registry
from raftkube.state.local import LocalStore


def pod(name):
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"v": "0"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


class LostAnswers(LocalStore):
    """A store that applies the next write, lets ``meanwhile`` run (another client's write), and then says the
    outcome is unknown (as a leader change or a partition during the commit does)."""

    def __init__(self):
        super().__init__()
        self.meanwhile = None

    def submit(self, txn, timeout_s=None):
        if self.meanwhile is None:
            return super().submit(txn, timeout_s)
        then, self.meanwhile = self.meanwhile, None
        super().submit(txn, timeout_s)
        then()
        raise Timeout("leadership changed while committing; the outcome is unknown")


@pytest.mark.parametrize("kind", ["update", "delete"])
def test_a_write_that_applied_and_was_overwritten_is_unknown_not_a_conflict(kind):
    store = LostAnswers()
    reg = Registry(store)
    current = reg.create(pod("p"))
    mine = copy.deepcopy(current)
    mine["metadata"]["labels"]["v"] = "mine"

    def someone_else():
        if kind == "delete":
            reg.create(pod("p"))  # deleted by us, created again by them
            return
        theirs = reg.get("Pod", "default", "p")
        theirs["metadata"]["labels"]["v"] = "theirs"
        reg.update(theirs)
    store.meanwhile = someone_else
    with pytest.raises(Timeout):
        if kind == "update":
            reg.update(mine)
        else:
            reg.delete("Pod", "default", "p", rv=current["metadata"]["resourceVersion"])


def test_a_write_that_did_not_apply_still_conflicts():
    from raftkube.model.errors import Conflict
    reg = Registry(LocalStore())
    current = reg.create(pod("p"))
    stale = copy.deepcopy(current)
    current["metadata"]["labels"]["v"] = "1"
    reg.update(current)
    with pytest.raises(Conflict):
        reg.update(stale)
