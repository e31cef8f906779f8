"""Who may do what on the API (issue 18): authentication and authorization as one Falcon middleware.

- The plain-HTTP port listens on loopback only (master.py): its callers are the admin, as on 2014's localhost
  port. Every request of the secure port (``raftkube.secure`` in the environ, api/tls.py) needs a credential: a
  bearer token of the static token file, or a client certificate signed by the cluster CA (CN = user, O =
  groups). None -> 401 Status; ``/healthz`` stays open.
- A minion (``node:<name>``) may create only its own Node (``check_create``, called by the POST handler once the
  body is decoded) and write the status only of pods bound to it (the stored pod's ``spec.nodeName``).
- Roles come from groups: ``admin`` (everything), ``viewer`` (get, list, watch), ``nodes`` with user
  ``node:<name>`` (read pods, services, endpoints and its own Node; write events; create and update its own
  Node and its status; write the status of pods). Anything else -> 403 Status naming user, verb and resource.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from raftkube.model.errors import Forbidden, Unauthorized
from raftkube.model.objects import DEFAULT_NAMESPACE, name_of
from raftkube.pki import ADMIN_GROUP, NODES_GROUP, VIEWER_GROUP, read_tokens

READ_VERBS = frozenset({"get", "list", "watch"})
OPEN_PATHS = frozenset({"/healthz"})


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]


LOCAL_ADMIN = User("admin", (ADMIN_GROUP,))


class Authenticator:
    def __init__(self, token_file: Path | None):
        self._tokens = {t.token: User(t.user, t.groups) for t in read_tokens(token_file)} if token_file else {}

    def user(self, env: dict, authorization: str | None) -> User | None:
        if authorization and authorization.lower().startswith("bearer "):
            given = authorization[7:].strip()
            for token, user in self._tokens.items():
                if hmac.compare_digest(token, given):
                    return user
            return None
        cert = env.get("raftkube.peer_cert")
        if cert:
            subject = [attr for rdn in cert.get("subject", ()) for attr in rdn]
            cns = [v for k, v in subject if k == "commonName"]
            if cns:
                return User(cns[0], tuple(v for k, v in subject if k == "organizationName"))
        return None


def request_verb(method: str, params: dict, path: str) -> str:
    if "/watch/" in path or params.get("watch") in ("true", "1"):
        return "watch"
    named = "name" in params
    return {"GET": "get" if named else "list", "POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete"}.get(method, method.lower())


#: what a minion reads: the pods it runs (the pod source watches them), services and endpoints (its service
#: proxy); of the Nodes only its own (get)
NODE_READS = frozenset({"Pod", "Service", "Endpoints"})


def allowed(user: User, verb: str, kind: str, sub: str, name: str) -> bool:
    if ADMIN_GROUP in user.groups:
        return True
    if verb in READ_VERBS and VIEWER_GROUP in user.groups:
        return True
    if NODES_GROUP in user.groups and user.name.startswith("node:"):
        me = user.name[len("node:"):]
        if verb in READ_VERBS and (kind in NODE_READS or (kind == "Node" and verb == "get" and name == me)):
            return True
        if kind == "Event" and verb in ("create", "update", "patch"):
            return True
        if kind == "Node" and name == me and verb in ("update", "patch"):
            return True
        if kind == "Node" and verb == "create":
            return True  # registration: the name is in the body, checked by check_create
        if kind == "Pod" and sub == "status" and verb == "update":
            return True  # of a pod bound to it: checked against the stored pod by the middleware
    return False


def node_of(user: User) -> str | None:
    """The minion a ``node:<name>`` user of the nodes group is, else None."""
    if NODES_GROUP in user.groups and ADMIN_GROUP not in user.groups and user.name.startswith("node:"):
        return user.name[len("node:"):]
    return None


def check_create(req, obj: dict) -> None:
    """What a POST creates, once decoded: a minion registers only its own Node (the name is not in the path)."""
    user = getattr(req.context, "user", None)
    me = node_of(user) if user is not None else None
    if me is not None and obj.get("kind") == "Node" and name_of(obj) != me:
        raise Forbidden(f'User "{user.name}" cannot create resource "nodes" named "{name_of(obj)}": a minion '
                        f'registers only its own Node ("{me}")', kind="Node", name=name_of(obj))


class AuthMiddleware:
    def __init__(self, authenticator: Authenticator):
        self.authenticator = authenticator

    def process_resource(self, req, resp, resource, params):
        if req.path in OPEN_PATHS:
            return
        env = req.env
        if not env.get("raftkube.secure"):
            req.context.user = LOCAL_ADMIN
            return
        user = self.authenticator.user(env, req.get_header("Authorization"))
        if user is None:
            raise Unauthorized("Unauthorized: a bearer token or a client certificate of the cluster CA is required")
        req.context.user = user
        version = getattr(resource, "version", None)
        res = version.resource(params.get("resource", "")) if version is not None and "resource" in params else None
        if res is None and version is not None and req.path.endswith(("/bindings", "/binding")):
            kind, sub, rname = "Pod", "binding", "bindings"
        elif res is not None:
            kind, rname = res.kind, params["resource"]
            sub = req.path.rsplit("/", 1)[-1] if req.path.endswith(("/status", "/scale")) else ""
        elif getattr(resource, "admin_only", False):  # /raft/members, /raft/snapshot, ... (api/operate.py)
            if ADMIN_GROUP not in user.groups:
                raise Forbidden(f'User "{user.name}" cannot {req.method} "{req.path}": admins only')
            return
        else:  # discovery, /version, /raft, ...: any authenticated user may read them
            if req.method == "GET":
                return
            kind, sub, rname = "", "", req.path
        verb = request_verb(req.method, {**params, **req.params}, req.path)
        if sub == "binding":
            verb = "create"
        what = f"{rname}/{sub}" if sub and sub != "binding" else rname
        ns = params.get("namespace") or req.get_param("namespace")
        where = f' in the namespace "{ns}"' if ns else ""
        if not allowed(user, verb, kind, sub, params.get("name", "")):
            raise Forbidden(f'User "{user.name}" cannot {verb} resource "{what}"{where}', kind=kind,
                            name=params.get("name", ""))
        me = node_of(user)
        if me is not None and kind == "Pod" and sub == "status":
            # the status of a pod bound to this minion only: the stored pod says where it is bound
            pod = resource.registry.get("Pod", ns or DEFAULT_NAMESPACE, params["name"])
            bound = pod.get("spec", {}).get("nodeName") or ""
            if bound != me:
                raise Forbidden(f'User "{user.name}" cannot {verb} resource "{what}"{where}: pod '
                                f'"{params["name"]}" is bound to {bound and repr(bound) or "no minion"}, not to '
                                f'"{me}"', kind=kind, name=params["name"])
