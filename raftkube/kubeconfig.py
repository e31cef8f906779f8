"""The kubeconfig ``raftkube up`` writes (``<data_dir>/kubeconfig``) so that stock kubectl finds the cluster.

One cluster and one context per master (``raftkube-<master>``), the first master current. No credentials:
kubectl never sends any to an ``http://`` server (K8S-V1.md §1).
"""

from __future__ import annotations

from pathlib import Path

import yaml


def kubeconfig(masters: list[tuple[str, str]]) -> dict:
    """``masters``: (name, API URL) pairs, the current one first."""
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": f"raftkube-{n}", "cluster": {"server": url}} for n, url in masters],
        "contexts": [{"name": f"raftkube-{n}", "context": {"cluster": f"raftkube-{n}", "user": "raftkube",
                                                           "namespace": "default"}} for n, _ in masters],
        "current-context": f"raftkube-{masters[0][0]}",
        "users": [{"name": "raftkube", "user": {}}],
        "preferences": {},
    }


def write_kubeconfig(path: Path, masters: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(kubeconfig(masters), sort_keys=False))
    tmp.replace(path)
    return path
