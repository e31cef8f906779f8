"""The kubeconfig ``raftkube up`` writes (``<data_dir>/kubeconfig``) so that stock kubectl finds the cluster.

One cluster and one context per master (``raftkube-<master>``), the first master current. A master with a
``secure_port`` is named by its https URL, verified with the cluster CA, and the user is the admin with its client
certificate (README "Security"); a master without one by its plain loopback URL and no credential (kubectl never
sends any to an ``http://`` server, K8S-V1.md §1). The file names the CA and the admin's files by absolute path and
is 0600 (it leads to an admin credential).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from raftkube.config import ClusterConfig
from raftkube.pki import Pki


def kubeconfig(masters: list[tuple[str, str]], ca: Path | None = None,
               admin: tuple[Path, Path] | None = None) -> dict:
    """``masters``: (name, API URL) pairs, the current one first; ``ca`` verifies the https ones, ``admin`` is the
    (certificate, key) the user presents."""
    def cluster(url: str) -> dict:
        out = {"server": url}
        if ca is not None and url.startswith("https://"):
            out["certificate-authority"] = str(Path(ca).resolve())
        return out

    user = {}
    if admin is not None and any(url.startswith("https://") for _, url in masters):
        user = {"client-certificate": str(Path(admin[0]).resolve()), "client-key": str(Path(admin[1]).resolve())}
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": f"raftkube-{n}", "cluster": cluster(url)} for n, url in masters],
        "contexts": [{"name": f"raftkube-{n}", "context": {"cluster": f"raftkube-{n}", "user": "raftkube",
                                                           "namespace": "default"}} for n, _ in masters],
        "current-context": f"raftkube-{masters[0][0]}",
        "users": [{"name": "raftkube", "user": user}],
        "preferences": {},
    }


def cluster_kubeconfig(config: ClusterConfig) -> dict:
    """The kubeconfig of ``config``'s masters: the secure port where there is one, with the pki's CA and admin."""
    pki = Pki(config.pki_dir)
    masters = [(m.name, m.secure_url or m.api_url) for m in config.masters]
    return kubeconfig(masters, pki.ca_cert, pki.admin)


def write_kubeconfig(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)
    return path
