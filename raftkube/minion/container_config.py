"""What to create for a pod's containers: ``ContainerConfig`` for the infra container and each app container.

The infra container (the pause image, 2014's ``net``) carries the pod's hostname and hostPort bindings;
app containers join its network namespace and get the env (the pod's service variables included),
command, resources (cpu shares, memory), privileges and volume mounts of their spec. Every container is
labelled (``runtime.LABEL_*``) and named ``k8s_<container>.<hash>_<pod>.<namespace>.api_<uid8>_<rand8>``
so a restarted kubelet recognises and adopts it. Pure: volume directories come from a callback.
"""

from __future__ import annotations

import random
from typing import Callable

from raftkube.model.objects import name_of, namespace_of
from raftkube.minion.planner import container_hash, infra_hash
from raftkube.minion.runtime import (INFRA_NAME, LABEL_CONTAINER, LABEL_HASH, LABEL_INFRA_ID, LABEL_MANAGED,
                                     LABEL_NODE, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID,
                                     LABEL_RESTART_COUNT, ContainerConfig, Mount, PortBinding)


def docker_name(container: str, spec_hash: str, pod: str, namespace: str, uid: str, rand: str) -> str:
    """The 2014 docker container name of a pod's container."""
    return f"k8s_{container}.{spec_hash}_{pod}.{namespace}.api_{uid[:8]}_{rand}"


def cpu_shares(milli_cpu: int) -> int:
    """2014: CpuShares = cpu * 1024 / 1000, at least 2; 0 means unset."""
    if not milli_cpu:
        return 0
    return max(2, milli_cpu * 1024 // 1000)


def _labels(node: str, pod: dict, uid: str, cname: str, spec_hash: str, restart_count: int,
            infra_id: str = "") -> dict[str, str]:
    labels = {LABEL_MANAGED: "true", LABEL_NODE: node, LABEL_POD_UID: uid, LABEL_POD_NAMESPACE: namespace_of(pod),
              LABEL_POD_NAME: name_of(pod), LABEL_CONTAINER: cname, LABEL_HASH: spec_hash,
              LABEL_RESTART_COUNT: str(restart_count)}
    if infra_id:
        labels[LABEL_INFRA_ID] = infra_id
    return labels


def _rand8(rng: random.Random) -> str:
    return format(rng.getrandbits(32), "08x")


def infra_config(node: str, pod: dict, uid: str, image: str, rng: random.Random) -> ContainerConfig:
    """The pod's infra container: hostname, the hostPort bindings of every container, never pulled."""
    h = infra_hash(pod)
    ports = tuple(PortBinding(p.get("containerPort") or 0, p.get("hostPort") or 0,
                              (p.get("protocol") or "TCP").upper(), p.get("hostIP") or "")
                  for c in (pod.get("spec") or {}).get("containers") or () for p in c.get("ports") or ()
                  if p.get("containerPort"))
    return ContainerConfig(
        name=docker_name(INFRA_NAME, h, name_of(pod), namespace_of(pod), uid, _rand8(rng)), image=image,
        labels=_labels(node, pod, uid, INFRA_NAME, h, 0), hostname=name_of(pod)[:63], ports=ports,
        pull_policy="Never")


def app_config(node: str, pod: dict, uid: str, cname: str, restart_count: int, infra_id: str,
               rng: random.Random, volume_dir: Callable[[str, dict], str] | None = None) -> ContainerConfig:
    """App container ``cname`` of the pod, joining the network of ``infra_id``; ``volume_dir(uid, volume)``
    gives the host directory of a volume ("" = not mounted)."""
    spec = pod.get("spec") or {}
    container = next(c for c in spec.get("containers") or () if c.get("name") == cname)
    service_env = spec.get("serviceEnv") or []
    h = container_hash(container, service_env)
    env = tuple(f"{e.get('name')}={e.get('value') or ''}" for e in list(container.get("env") or ()) + list(service_env)
                if e.get("name"))
    limits = (container.get("resources") or {}).get("limits") or {}
    volumes = {v.get("name"): v for v in spec.get("volumes") or ()}
    mounts = []
    for m in container.get("volumeMounts") or ():
        vol = volumes.get(m.get("name"))
        if vol is None or volume_dir is None:
            continue
        path = volume_dir(uid, vol)
        if path:
            mounts.append(Mount(path, m.get("mountPath") or "", bool(m.get("readOnly"))))
    return ContainerConfig(
        name=docker_name(cname, h, name_of(pod), namespace_of(pod), uid, _rand8(rng)),
        image=container.get("image") or "", labels=_labels(node, pod, uid, cname, h, restart_count, infra_id),
        command=tuple(container.get("command") or ()), working_dir=container.get("workingDir") or "", env=env,
        network_of=infra_id, cpu_shares=cpu_shares(int(limits.get("cpu") or 0)),
        memory=int(limits.get("memory") or 0), privileged=bool(container.get("privileged")),
        mounts=tuple(mounts), pull_policy=container.get("imagePullPolicy") or "IfNotPresent")

