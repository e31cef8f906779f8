"""Pure validation of INTERNAL objects (``pkg/api/validation/validation.go``, K04/K05).

Every ``*_causes`` function returns all field errors at once as ``list[Cause]``; field paths are INTERNAL
paths (``spec.containers[0].image``, ``metadata.name``). ``validate`` turns them into one ``Invalid`` with
the 2014 message ``pod "redis" is invalid: <first cause message>``. An API version that serves the error
translates the paths (and the message) into its own field names; the checks run in the order the 2014
checks did, because the first cause is the one the message quotes.

Validation is tolerant of missing keys (it reads with defaults), so it can run on partially built objects.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable, Iterable, Mapping

from raftkube.model.errors import Cause, FieldErrors, Invalid
from raftkube.model.objects import FAILED, RESOURCES_BY_KIND, SUCCEEDED

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
DNS_952_LABEL_MAX = 24
LABEL_VALUE_MAX = 63
MAX_REPLICAS = 100_000  # spec.replicas of one RC (README, API limits): 1e9 would bury the store
ANNOTATIONS_MAX_BYTES = 256 * 1024  # keys + values of one object's annotations, UTF-8 (as Kubernetes)
MAX_CPU = 1_000_000  # millicores (1 000 CPUs): a container's limit, a node's capacity
MAX_MEMORY = 2 ** 50  # bytes (1 PiB): a container's limit, a node's capacity
RESOURCE_MAX = {"cpu": MAX_CPU, "memory": MAX_MEMORY}
ENV_NAME_MAX = 253  # characters of an environment variable's name
PATH_MAX = 4096  # characters of a mount path (Linux PATH_MAX)

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_952_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")  # label key name and label value
_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("", "Always", "Never", "IfNotPresent")
PROTOCOLS = ("TCP", "UDP")

POD_SPEC = "spec"
TEMPLATE_SPEC = "spec.template.spec"


# --- predicates -------------------------------------------------------------------------------------

def is_dns_label(s: str) -> bool:
    return len(s) <= DNS_LABEL_MAX and _DNS_LABEL.fullmatch(s) is not None


def is_dns_subdomain(s: str) -> bool:
    return len(s) <= DNS_SUBDOMAIN_MAX and _DNS_SUBDOMAIN.fullmatch(s) is not None


def is_dns_952_label(s: str) -> bool:
    return len(s) <= DNS_952_LABEL_MAX and _DNS_952_LABEL.fullmatch(s) is not None


def is_c_identifier(s: str) -> bool:
    return _C_IDENTIFIER.fullmatch(s) is not None


def is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# --- the error ----------------------------------------------------------------------------------------

def invalid_error(kind: str, name: str, causes: Iterable[Cause]) -> Invalid:
    """The 2014 ``Invalid``: ``<singular> "<name>" is invalid: <first cause message>``."""
    causes = list(causes)
    res = RESOURCES_BY_KIND.get(kind)
    singular = res.singular if res else kind.lower()
    first = causes[0].message if causes else "unknown error"
    return Invalid(f'{singular} "{name}" is invalid: {first}', kind=kind, name=name, causes=causes)


# --- shared pieces ----------------------------------------------------------------------------------

def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _key_why(key) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name (``[prefix/]name``), or None."""
    if not isinstance(key, str) or not key:
        return "a label key may not be empty"
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or not is_dns_subdomain(prefix)):
        return "a label key prefix must be a DNS subdomain of 1-253 characters"
    if not name or len(name) > DNS_LABEL_MAX or not _LABEL_NAME.fullmatch(name):
        return ("a label key must be 1-63 characters after an optional prefix/: alphanumerics, '-', '_', '.', "
                "starting and ending with an alphanumeric")
    return None


def _check_labels(errs: FieldErrors, labels: Mapping[str, str] | None, path: str) -> None:
    """Keys ``[prefix/]name`` (name <= 63 chars, prefix a DNS subdomain); values <= 63 chars, same characters."""
    if labels is not None and not isinstance(labels, Mapping):
        errs.invalid(path, labels, "must be a map of strings")
        return
    for key, value in (labels or {}).items():
        why = _key_why(key)
        if why:
            errs.invalid(path, key, why)
        if not isinstance(value, str) or len(value) > LABEL_VALUE_MAX or (value and not _LABEL_NAME.fullmatch(value)):
            errs.invalid(path, value, "a label value must be empty or at most 63 characters: alphanumerics, '-', "
                                      "'_', '.', starting and ending with an alphanumeric")


def _check_annotations(errs: FieldErrors, annotations, path: str) -> None:
    """Keys qualified names, values strings, keys + values at most ``ANNOTATIONS_MAX_BYTES`` in all."""
    if annotations is None:
        return
    if not isinstance(annotations, Mapping):
        errs.invalid(path, annotations, "must be a map of strings")
        return
    total = 0
    for key, value in annotations.items():
        why = _key_why(key)
        if why:
            errs.invalid(path, key, why.replace("label key", "annotation key"))
        if not isinstance(value, str):
            errs.invalid(f"{path}.{key}", value, "an annotation value must be a string")
            continue
        total += len(str(key).encode("utf-8", "replace")) + len(value.encode("utf-8", "replace"))
    if total > ANNOTATIONS_MAX_BYTES:
        errs.invalid(path, f"{total} bytes", f"annotations may not be larger than {ANNOTATIONS_MAX_BYTES} bytes "
                                             "(keys and values) in all")


def _check_meta(errs: FieldErrors, obj: dict, name_check: Callable[[str], str | None],
                labels_path: str = "metadata.labels") -> None:
    """Name, namespace and labels; ``name_check`` returns why a non-empty name is bad, or None."""
    md = _meta(obj)
    name = md.get("name") or ""
    if not name:
        errs.required("metadata.name")
    else:
        why = name_check(name)
        if why:
            errs.invalid("metadata.name", name, why)
    kind = obj.get("kind", "")
    ns = md.get("namespace") or ""
    if ns and kind in RESOURCES_BY_KIND and RESOURCES_BY_KIND[kind].namespaced and not is_dns_label(ns):
        errs.invalid("metadata.namespace", ns, "must be a DNS label")
    _check_labels(errs, md.get("labels"), labels_path)
    _check_annotations(errs, md.get("annotations"), labels_path.replace("labels", "annotations"))


def _dns_subdomain_name(name: str) -> str | None:
    return None if is_dns_subdomain(name) else "must be a DNS subdomain (lowercase alphanumerics, '-', '.')"


def _no_slash_name(name: str) -> str | None:
    return "may not contain '/'" if "/" in name else None


def _dns_952_name(name: str) -> str | None:
    return None if is_dns_952_label(name) else "must be a DNS-952 label: [a-z]([-a-z0-9]*[a-z0-9])?, at most 24"


# --- pod spec -------------------------------------------------------------------------------------

def _check_port(errs: FieldErrors, port: dict, p: str, names: set[str]) -> None:
    name = port.get("name") or ""
    if name:
        if not is_dns_label(name):
            errs.invalid(f"{p}.name", name, "must be a DNS label")
        elif name in names:
            errs.duplicate(f"{p}.name", name)
        names.add(name)
    cp = port.get("containerPort", 0)
    if cp == 0 or cp is None:
        errs.required(f"{p}.containerPort")
    elif not _is_int(cp) or not 1 <= cp <= 65535:
        errs.invalid(f"{p}.containerPort", cp, "must be 1-65535")
    hp = port.get("hostPort") or 0
    if not _is_int(hp) or not 0 <= hp <= 65535:
        errs.invalid(f"{p}.hostPort", hp, "must be 0-65535")
    proto = port.get("protocol") or ""
    if proto and proto not in PROTOCOLS:
        errs.unsupported(f"{p}.protocol", proto)


def _check_container(errs: FieldErrors, c: dict, p: str, volumes: set[str]) -> None:
    name = c.get("name") or ""
    if not name:
        errs.required(f"{p}.name")
    elif not is_dns_label(name):
        errs.invalid(f"{p}.name", name, "must be a DNS label")
    if not c.get("image"):
        errs.required(f"{p}.image")
    port_names: set[str] = set()
    for j, port in enumerate(c.get("ports") or ()):
        _check_port(errs, port or {}, f"{p}.ports[{j}]", port_names)
    for j, env in enumerate(c.get("env") or ()):
        env = env if isinstance(env, dict) else {}
        env_name = env.get("name") or ""
        if not env_name:
            errs.required(f"{p}.env[{j}].name")
        elif not isinstance(env_name, str) or not is_c_identifier(env_name) or len(env_name) > ENV_NAME_MAX:
            errs.invalid(f"{p}.env[{j}].name", env_name, f"must be a C identifier of at most {ENV_NAME_MAX} "
                                                         "characters")
        if env.get("value") is not None and not isinstance(env["value"], str):
            errs.invalid(f"{p}.env[{j}].value", env["value"], "must be a string")
    limits = (c.get("resources") or {}).get("limits") or {}
    for res in ("cpu", "memory"):
        _check_quantity(errs, limits.get(res) or 0, res, f"{p}.resources.limits.{res}")
    mount_paths: set[str] = set()
    for j, vm in enumerate(c.get("volumeMounts") or ()):
        vm = vm if isinstance(vm, dict) else {}
        vname = vm.get("name") or ""
        if not vname:
            errs.required(f"{p}.volumeMounts[{j}].name")
        elif vname not in volumes:
            errs.not_found(f"{p}.volumeMounts[{j}].name", vname)
        mount_path = vm.get("mountPath")
        if not mount_path:
            errs.required(f"{p}.volumeMounts[{j}].mountPath")
            continue
        why = _path_why(mount_path)
        if why:
            errs.invalid(f"{p}.volumeMounts[{j}].mountPath", mount_path, why)
        elif mount_path.rstrip("/") in mount_paths:
            errs.duplicate(f"{p}.volumeMounts[{j}].mountPath", mount_path)
        else:
            mount_paths.add(mount_path.rstrip("/"))
    policy = c.get("imagePullPolicy") or ""
    if policy not in PULL_POLICIES:
        errs.unsupported(f"{p}.imagePullPolicy", policy)


def _check_quantity(errs: FieldErrors, v, res: str, path: str) -> None:
    if not _is_int(v) or not 0 <= v <= RESOURCE_MAX[res]:
        unit = "millicores" if res == "cpu" else "bytes"
        errs.invalid(path, v, f"must be an integer from 0 to {RESOURCE_MAX[res]} ({unit})")


def _path_why(path) -> str | None:
    """Why ``path`` is not an acceptable mount path in a container, or None."""
    if not isinstance(path, str):
        return "must be a string"
    if len(path) > PATH_MAX:
        return f"must be at most {PATH_MAX} characters"
    if not path.startswith("/"):
        return "must be an absolute path"
    if "\0" in path:
        return "must not contain a NUL character"
    if ".." in path.split("/"):
        return "must not contain '..'"
    return None


def pod_spec_causes(spec: dict, path: str = POD_SPEC) -> list[Cause]:
    """Errors of a pod spec (containers, volumes, restart policy), under the spec's ``path``."""
    errs = FieldErrors()
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or ()):
        vname = (vol or {}).get("name") or ""
        vp = f"{path}.volumes[{i}].name"
        if not vname:
            errs.required(vp)
        elif not is_dns_label(vname):
            errs.invalid(vp, vname, "must be a DNS label")
        elif vname in volumes:
            errs.duplicate(vp, vname)
        volumes.add(vname)
        host_path = (vol or {}).get("hostPath") if isinstance(vol, dict) else None
        if isinstance(host_path, dict):
            why = _path_why(host_path.get("path"))
            if why:
                errs.invalid(f"{path}.volumes[{i}].hostPath.path", host_path.get("path"), why)
    names: set[str] = set()
    host_ports: set[int] = set()
    for i, c in enumerate(spec.get("containers") or ()):
        c = c or {}
        cp = f"{path}.containers[{i}]"
        _check_container(errs, c, cp, volumes)
        name = c.get("name") or ""
        if name and name in names:
            errs.duplicate(f"{cp}.name", name)
        names.add(name)
        for j, port in enumerate(c.get("ports") or ()):
            hp = (port or {}).get("hostPort") or 0
            if _is_int(hp) and hp > 0:
                if hp in host_ports:
                    errs.duplicate(f"{cp}.ports[{j}].hostPort", hp)
                host_ports.add(hp)
    policy = spec.get("restartPolicy") or "Always"
    if policy not in RESTART_POLICIES:
        errs.unsupported(f"{path}.restartPolicy", policy)
    return errs.causes


# --- per kind ---------------------------------------------------------------------------------------

def pod_causes(pod: dict) -> list[Cause]:
    errs = FieldErrors()
    _check_meta(errs, pod, _dns_subdomain_name)
    spec = pod.get("spec") or {}
    _check_labels(errs, spec.get("nodeSelector"), "spec.nodeSelector")
    return errs.causes + pod_spec_causes(spec, POD_SPEC)


def replication_controller_causes(rc: dict) -> list[Cause]:
    errs = FieldErrors()
    _check_meta(errs, rc, _no_slash_name)
    spec = rc.get("spec") or {}
    replicas = spec.get("replicas") or 0
    if not _is_int(replicas) or replicas < 0:
        errs.invalid("spec.replicas", replicas, "must be a non-negative integer")
    elif replicas > MAX_REPLICAS:
        errs.invalid("spec.replicas", replicas, f"must be at most {MAX_REPLICAS}")
    selector = spec.get("selector") or {}
    template = spec.get("template") or {}
    tlabels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        errs.required("spec.selector")
    else:
        _check_labels(errs, selector, "spec.selector")
        if any(tlabels.get(k) != v for k, v in selector.items()):
            errs.invalid("spec.selector", _fmt(selector), "selector does not match the template labels")
    _check_labels(errs, tlabels, "spec.template.metadata.labels")
    _check_annotations(errs, (template.get("metadata") or {}).get("annotations"), "spec.template.metadata.annotations")
    tspec = template.get("spec") or {}
    _check_labels(errs, tspec.get("nodeSelector"), "spec.template.spec.nodeSelector")
    causes = errs.causes + pod_spec_causes(tspec, TEMPLATE_SPEC)
    policy = tspec.get("restartPolicy") or "Always"
    if policy != "Always" and policy in RESTART_POLICIES:
        # a replication controller keeps its pods running: a pod that ran to completion would be replaced
        # over and over (Kubernetes refuses these templates the same way)
        rc_errs = FieldErrors()
        rc_errs.unsupported(f"{TEMPLATE_SPEC}.restartPolicy", policy)
        causes += rc_errs.causes
    return causes


def service_causes(svc: dict) -> list[Cause]:
    errs = FieldErrors()
    _check_meta(errs, svc, _dns_952_name)
    spec = svc.get("spec") or {}
    ports = [p or {} for p in spec.get("ports") or ()]
    if not ports:
        errs.required("spec.ports")
    for i, p in enumerate(ports):
        port = p.get("port") or 0
        if port == 0:
            errs.required(f"spec.ports[{i}].port")
        elif not _is_int(port) or not 1 <= port <= 65535:
            errs.invalid(f"spec.ports[{i}].port", port, "must be 1-65535")
    selector = spec.get("selector") or {}
    if not selector:
        errs.required("spec.selector")
    else:
        _check_labels(errs, selector, "spec.selector")
    names: set[str] = set()
    for i, p in enumerate(ports):
        pp = f"spec.ports[{i}]"
        proto = p.get("protocol") or ""
        if proto and proto not in PROTOCOLS:
            errs.unsupported(f"{pp}.protocol", proto)
        target = p.get("targetPort") or 0
        if isinstance(target, str):
            if not is_dns_label(target):
                errs.invalid(f"{pp}.targetPort", target, "a port name must be a DNS label")
        elif not _is_int(target) or not 0 <= target <= 65535:
            errs.invalid(f"{pp}.targetPort", target, "must be 0-65535 or a port name")
        name = p.get("name") or ""
        if name and not is_dns_label(name):
            errs.invalid(f"{pp}.name", name, "must be a DNS label")
        elif name and name in names:
            errs.duplicate(f"{pp}.name", name)
        elif not name and len(ports) > 1:
            errs.required(f"{pp}.name")
        names.add(name)
    portal = spec.get("portalIP") or ""
    if portal and not is_ip(portal):
        errs.invalid("spec.portalIP", portal, "must be an IP address")
    for i, ip in enumerate(spec.get("publicIPs") or ()):
        if not ip:
            errs.required(f"spec.publicIPs[{i}]")
    return errs.causes


def endpoints_causes(ep: dict) -> list[Cause]:
    errs = FieldErrors()
    _check_meta(errs, ep, _no_slash_name)
    for i, subset in enumerate(ep.get("subsets") or ()):
        subset = subset or {}
        for j, address in enumerate(subset.get("addresses") or ()):
            if not (address or {}).get("ip"):
                errs.required(f"subsets[{i}].addresses[{j}].ip")
        for k, port in enumerate(subset.get("ports") or ()):
            port = port or {}
            number = port.get("port") or 0
            if not _is_int(number) or not 1 <= number <= 65535:
                errs.invalid(f"subsets[{i}].ports[{k}].port", number, "must be 1-65535")
            proto = port.get("protocol") or ""
            if proto and proto not in PROTOCOLS:
                errs.unsupported(f"subsets[{i}].ports[{k}].protocol", proto)
    return errs.causes


def node_causes(node: dict) -> list[Cause]:
    errs = FieldErrors()
    _check_meta(errs, node, lambda n: None if is_dns_subdomain(n) or is_ip(n)
                else "must be a DNS subdomain or an IP address")
    status = node.get("status") or {}
    host_ip = status.get("hostIP") or ""
    if host_ip and not is_ip(host_ip):
        errs.invalid("status.hostIP", host_ip, "must be an IP address")
    capacity = status.get("capacity") or {}
    for res in ("cpu", "memory"):
        _check_quantity(errs, capacity.get(res) or 0, res, f"status.capacity.{res}")
    return errs.causes


def event_causes(event: dict) -> list[Cause]:
    errs = FieldErrors()
    _check_meta(errs, event, _no_slash_name)
    involved = event.get("involvedObject") or {}
    for f in ("name", "kind"):
        if not involved.get(f):
            errs.required(f"involvedObject.{f}")
    return errs.causes


def namespace_causes(ns: dict) -> list[Cause]:
    errs = FieldErrors()
    _check_meta(errs, ns, lambda n: None if is_dns_label(n) else
                "must be a DNS label (at most 63 lowercase alphanumerics or '-', starting and ending alphanumeric)")
    phase = (ns.get("status") or {}).get("phase") or ""
    if phase and phase not in ("Active", "Terminating"):
        errs.unsupported("status.phase", phase)
    return errs.causes


MAX_SERIAL_HEX = 40  # RFC 5280: serial numbers of at most 20 octets


def revocation_causes(rev: dict) -> list[Cause]:
    errs = FieldErrors()
    _check_meta(errs, rev, lambda n: None if n == serial_hex(n) and len(n) <= MAX_SERIAL_HEX else
                f"must be a certificate serial number: lowercase hex without leading zeros, at most "
                f"{MAX_SERIAL_HEX} digits")
    spec = rev.get("spec") or {}
    for f, limit in (("subject", 1024), ("reason", 256)):
        value = spec.get(f, "")
        if not isinstance(value, str):
            errs.invalid(f"spec.{f}", value, "must be a string")
        elif len(value) > limit:
            errs.invalid(f"spec.{f}", value[:40] + "...", f"must be at most {limit} characters")
    return errs.causes


def serial_hex(serial: str) -> str:
    """A serial number as revocations name it (``"0A1B"``, ``"0x0a1b"`` -> ``"a1b"``); "" if it is not hex."""
    s = serial.strip().lower().replace(":", "")
    s = s[2:] if s.startswith("0x") else s
    if not s or len(s) > 2 * MAX_SERIAL_HEX or any(c not in "0123456789abcdef" for c in s):
        return ""
    return s.lstrip("0") or "0"


_VALIDATORS: dict[str, Callable[[dict], list[Cause]]] = {
    "Pod": pod_causes,
    "ReplicationController": replication_controller_causes,
    "Service": service_causes,
    "Endpoints": endpoints_causes,
    "Node": node_causes,
    "Event": event_causes,
    "Namespace": namespace_causes,
    "CertificateRevocation": revocation_causes,
}


def causes_of(obj: dict) -> list[Cause]:
    """All field errors of an internal object of any kind."""
    kind = obj.get("kind", "")
    if kind not in _VALIDATORS:
        raise ValueError(f"no validation for kind {kind!r}")
    return _VALIDATORS[kind](obj)


def validate(obj: dict) -> None:
    """Raise ``Invalid`` carrying every field error of ``obj``, if it has any."""
    causes = causes_of(obj)
    if causes:
        raise invalid_error(obj.get("kind", ""), _meta(obj).get("name") or "", causes)


# --- updates ---------------------------------------------------------------------------------------

IMMUTABLE_MESSAGE = "may not change fields other than image"


def _without_images(spec: dict) -> dict:
    return {
        "containers": [{k: v for k, v in (c or {}).items() if k != "image"} for c in spec.get("containers") or ()],
        "volumes": spec.get("volumes") or [],
        "restartPolicy": spec.get("restartPolicy") or "Always",
        "nodeSelector": spec.get("nodeSelector") or {},
    }


def pod_update_causes(old: dict, new: dict) -> list[Cause]:
    """Once a pod is bound only container images (and metadata labels/annotations) may change.

    ``nodeName``, ``serviceEnv`` and ``status`` are ignored: the server owns them.
    """
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if not old_spec.get("nodeName"):
        return []
    if _without_images(old_spec) == _without_images(new_spec):
        return []
    return [Cause("FieldValueInvalid", POD_SPEC, f"{POD_SPEC}: {IMMUTABLE_MESSAGE}")]


def validate_pod_update(old: dict, new: dict) -> None:
    """Raise ``Invalid`` if a user update of a bound pod changes more than images and labels."""
    causes = pod_update_causes(old, new)
    if causes:
        raise invalid_error("Pod", _meta(new).get("name") or _meta(old).get("name") or "", causes)


def validate_deleting_update(old: dict, new: dict) -> None:
    """An object being deleted (``metadata.deletionTimestamp``) takes updates, as in Kubernetes, but no new
    finalizers: ``Invalid`` naming them."""
    if not _meta(old).get("deletionTimestamp"):
        return
    extra = sorted(set(_meta(new).get("finalizers") or ()) - set(_meta(old).get("finalizers") or ()))
    if extra:
        errs = FieldErrors()
        errs.forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted, "
                       f"found new finalizers {extra}")
        raise invalid_error(new["kind"], _meta(new).get("name") or "", errs.causes)


TERMINAL_PHASES = (SUCCEEDED, FAILED)


def pod_status_update_causes(old: dict, new: dict) -> list[Cause]:
    """A terminated pod stays terminated: once its phase is Succeeded or Failed, a status write (a kubelet's late
    report, say, computed before the master failed the pod) may not change the phase."""
    was, now = (old.get("status") or {}).get("phase"), (new.get("status") or {}).get("phase")
    if was not in TERMINAL_PHASES or now == was:
        return []
    errs = FieldErrors()
    errs.forbidden("status.phase", "a terminated pod stays terminated")
    return errs.causes


def validate_pod_status_update(old: dict, new: dict) -> None:
    causes = pod_status_update_causes(old, new)
    if causes:
        raise invalid_error("Pod", _meta(new).get("name") or _meta(old).get("name") or "", causes)


def _fmt(d: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(d.items()))
