"""The one place that builds the objects tests and benchmarks create: pods, replication controllers,
services and nodes, in the two shapes they are sent in.

* Internal model (``raftkube.model``: ``kind``/``metadata``/``spec``/``status``), for the ``Client``
  protocol (the unit tests' recording client, ``HttpClient`` against real masters): ``node``,
  ``container``, ``pod``, ``rc``, ``service``. ``pod`` and ``node`` are stored-object shapes (status,
  creation time); the registry resets those on a create.
* v1beta1 request bodies (the 2014 wire JSON: ``id``, ``desiredState.manifest``, ``replicaSelector``),
  for POSTs to ``/api/v1beta1/...`` and the CLI's ``-c`` files: ``pod_body``, ``rc_body``, ``service_body``.
  Containers in bodies are wire dicts (``{"name", "image", "ports": [{"containerPort"}]}``).
"""

from __future__ import annotations

WIRE_VERSION = "v1beta1"


# ---- internal model -----------------------------------------------------------------------------------

def node(name: str, *, cpu: int = 0, memory: int = 0, labels: dict | None = None, ready: bool = True,
         heartbeat: str = "2027-01-15T08:00:00Z") -> dict:
    return {"kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "status": {"hostIP": "10.0.0.1", "capacity": {"cpu": cpu, "memory": memory},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "reason": "", "lastHeartbeatTime": heartbeat,
                                       "lastTransitionTime": heartbeat}]}}


def container(name: str = "c", *, host_port: int = 0, container_port: int = 80, port_name: str = "",
              cpu: int = 0, memory: int = 0) -> dict:
    port = {"containerPort": container_port}
    if host_port:
        port["hostPort"] = host_port
    if port_name:
        port["name"] = port_name
    c = {"name": name, "image": "busybox", "ports": [port]}
    if cpu or memory:
        c["resources"] = {"limits": {"cpu": cpu, "memory": memory}}
    return c


def pod(name: str, labels: dict | None = None, *, node_name: str = "", phase: str = "Pending",
        pod_ip: str = "", containers: list | None = None, node_selector: dict | None = None,
        created: str = "2027-01-15T08:00:00Z") -> dict:
    spec = {"containers": containers or [container()], "nodeName": node_name}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels or {"app": "web"},
                         "creationTimestamp": created, "resourceVersion": 0},
            "spec": spec, "status": {"phase": phase, "podIP": pod_ip}}


def rc(name: str = "web", replicas: int = 3, selector: dict | None = None, containers: list | None = None) -> dict:
    selector = selector or {"app": "web"}
    return {"kind": "ReplicationController", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": selector,
                     "template": {"metadata": {"labels": dict(selector)},
                                  "spec": {"containers": containers or [container()]}}}}


def service(name: str = "web", selector: dict | None = None, container_port=0) -> dict:
    return {"kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": "", "port": 8000, "targetPort": container_port, "protocol": "TCP"}],
                     "selector": selector or {"app": "web"}}}


# ---- v1beta1 request bodies ---------------------------------------------------------------------------

def pod_body(name: str, image: str = "busybox", host_port: int = 0, labels: dict | None = None, *,
             containers: list[dict] | None = None, node_selector: dict | None = None,
             restart_policy: str = "") -> dict:
    """A v1beta1 pod in the article's shape: labels ``{"name": name}`` unless given, one container ``c`` of
    ``image`` on port 80 (and ``host_port`` on the host) unless ``containers`` are given; ``restart_policy``
    is a wire key (``always``, ``onFailure``, ``never``)."""
    if containers is None:
        port = {"containerPort": 80}
        if host_port:
            port["hostPort"] = host_port
        containers = [{"name": "c", "image": image, "ports": [port]}]
    body: dict = {"id": name, "labels": labels or {"name": name}}
    if node_selector:
        body["nodeSelector"] = node_selector
    manifest: dict = {"version": WIRE_VERSION, "id": name, "containers": containers}
    if restart_policy:
        manifest["restartPolicy"] = {restart_policy: {}}
    body["desiredState"] = {"manifest": manifest}
    return body


def rc_body(name: str, replicas: int = 1, image: str = "busybox", labels: dict | None = None, *,
            selector: dict | None = None, template_labels: dict | None = None,
            containers: list[dict] | None = None, node_selector: dict | None = None) -> dict:
    """A v1beta1 replicationController of ``replicas`` pods. Its labels default to ``{"name": name}``, the
    replica selector to its labels, the pod template's labels to the selector; the template has one
    container ``c`` of ``image`` (no ports) unless ``containers`` are given."""
    labels = labels or {"name": name}
    selector = selector or labels
    template: dict = {"labels": template_labels or selector}
    if node_selector:
        template["nodeSelector"] = node_selector
    template["desiredState"] = {"manifest": {"version": WIRE_VERSION, "id": name,
                                             "containers": containers or [{"name": "c", "image": image}]}}
    return {"id": name, "kind": "ReplicationController", "apiVersion": WIRE_VERSION, "labels": labels,
            "desiredState": {"replicas": replicas, "replicaSelector": selector, "podTemplate": template}}


def service_body(name: str, port: int, selector: dict, container_port: int = 80) -> dict:
    """A v1beta1 service on ``port`` of every minion's proxy, to ``container_port`` of the selected pods."""
    return {"id": name, "kind": "Service", "apiVersion": WIRE_VERSION, "port": port,
            "containerPort": container_port, "selector": selector}
