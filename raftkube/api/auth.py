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
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from raftkube.model.errors import Forbidden, Unauthorized
from raftkube.model.objects import DEFAULT_NAMESPACE, name_of
from raftkube.pki import ADMIN_GROUP, NODES_GROUP, VIEWER_GROUP, read_tokens

log = logging.getLogger(__name__)

#: how often a request may look at the token file's size and mtime
TOKEN_FILE_CHECK_S = 1.0

READ_VERBS = frozenset({"get", "list", "watch"})
OPEN_PATHS = frozenset({"/healthz"})


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]


LOCAL_ADMIN = User("admin", (ADMIN_GROUP,))


class Authenticator:
    """Bearer tokens of the static token file (read again when the file changes: checked at most once a
    second, so removing a line revokes that token on this master) and client certificates of the cluster CA
    whose serial ``revoked`` does not name (api/revocations.py)."""

    def __init__(self, token_file: Path | None, revoked: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.token_file = token_file
        self.revoked = revoked or (lambda serial: False)
        self._clock = clock
        self._tokens: dict[str, User] = {}
        self._stamp: tuple | None = None
        self._checked_at = -1.0
        self._lock = threading.Lock()
        self._reload()

    def _reload(self) -> None:
        """Read the token file again if it changed (size, mtime or inode). A file that no longer parses keeps
        the tokens read last, with an error in the log."""
        if self.token_file is None:
            return
        try:
            st = self.token_file.stat()
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp and self._checked_at >= 0:
            return
        try:
            tokens = {t.token: User(t.user, t.groups) for t in read_tokens(self.token_file)}
        except (OSError, ValueError) as exc:
            if self._checked_at < 0:
                raise
            log.error("token file %s not reloaded, the tokens read before stay in use: %s", self.token_file, exc)
            self._stamp = stamp
            return
        if self._checked_at >= 0:
            log.info("token file %s changed: %d tokens", self.token_file, len(tokens))
        self._tokens, self._stamp = tokens, stamp

    def tokens(self) -> dict[str, User]:
        now = self._clock()
        if now - self._checked_at >= TOKEN_FILE_CHECK_S and self._lock.acquire(blocking=False):
            try:
                self._reload()
                self._checked_at = now
            finally:
                self._lock.release()
        return self._tokens

    def user(self, env: dict, authorization: str | None) -> User | None:
        if authorization and authorization.lower().startswith("bearer "):
            given = authorization[7:].strip()
            for token, user in self.tokens().items():
                if hmac.compare_digest(token, given):
                    return user
            return None
        cert = env.get("raftkube.peer_cert")
        if cert:
            subject = [attr for rdn in cert.get("subject", ()) for attr in rdn]
            cns = [v for k, v in subject if k == "commonName"]
            if cns:
                if self.revoked(cert.get("serialNumber", "")):
                    raise Unauthorized(f'Unauthorized: the client certificate of "{cns[0]}" (serial '
                                       f'{cert.get("serialNumber", "").lower()}) is revoked')
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
        elif getattr(resource, "admin_only", False) or (
                getattr(resource, "admin_writes", False) and req.method != "GET"):  # api/operate.py, revocations.py
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
        if me is not None and kind == "Pod" and verb in ("list", "watch"):
            # the pods bound to this minion only: its list and watch must say so (spec.nodeName=<me>)
            selector = req.get_param("fields") or req.get_param("fieldSelector") or ""
            if version.field_selector(res, selector).required_node() != me:
                raise Forbidden(f'User "{user.name}" cannot {verb} resource "{what}"{where} without the field '
                                f'selector spec.nodeName={me} (v1beta1: DesiredState.Host={me}): a minion reads '
                                f'only the pods bound to it', kind=kind)
        if me is not None and kind == "Pod" and (verb == "get" or (sub == "status" and verb == "update")):
            # a pod bound to this minion only (read it, write its status): the stored pod says where it is bound
            pod = resource.registry.get("Pod", ns or DEFAULT_NAMESPACE, params["name"])  # 404 if there is none
            bound = pod.get("spec", {}).get("nodeName") or ""
            if bound != me:
                raise Forbidden(f'User "{user.name}" cannot {verb} resource "{what}"{where}: pod '
                                f'"{params["name"]}" is bound to {bound and repr(bound) or "no minion"}, not to '
                                f'"{me}"', kind=kind, name=params["name"])
