"""Teardown shared by the benchmark scripts."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def close_cluster(cluster) -> bool:
    """Stop a tests.helpers.MasterCluster; False (and the reason printed) if a master did not stop cleanly."""
    try:
        cluster.close()
    except AssertionError as exc:
        print(f"raftkube shutdown problem: {exc}", file=sys.stderr)
        return False
    return True


def keep_or_remove(workdir: Path, keep: bool) -> None:
    """Keep the work dir (logs and data) for a look afterwards, or remove it."""
    if keep:
        print(f"logs and data kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
