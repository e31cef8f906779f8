"""What the HTTP layer needs of one API version: its resource table and its codec.

The HTTP layer (``raftkube/api/``) is generic over "version -> resource table -> registry": it routes
``/api/<version>/<resource>`` through the version's table, hands the registry internal objects, and asks the
version to turn wire bodies into internal objects and back (objects, lists, watch events, Status bodies,
errors). Each wire version is one package (``apis/v1beta1/``, ``apis/v1/``) with one ``ApiVersion``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Mapping

from raftkube.model.errors import ApiError, Cause
from raftkube.model.objects import RESOURCES_BY_KIND
from raftkube.model.selectors import FieldSelector, LabelSelector, parse_label_selector

#: every verb and subresource a resource table may offer
VERBS = frozenset({"list", "create", "get", "update", "delete", "watch", "status", "bindings"})


@dataclass(frozen=True)
class Resource:
    """One REST resource of a wire version."""

    kind: str  # the internal kind the registry stores
    plural: str  # the URL segment: /api/<version>/<plural>
    wire_kind: str  # the "kind" of its wire bodies
    singular: str  # how this version's messages name one object: 'minion "m1" not found'
    verbs: frozenset[str]  # which of VERBS it serves

    def __post_init__(self):
        unknown = self.verbs - VERBS
        if unknown:
            raise ValueError(f"unknown verbs {sorted(unknown)} for {self.plural}")

    @property
    def namespaced(self) -> bool:
        return RESOURCES_BY_KIND[self.kind].namespaced


@dataclass(frozen=True)
class Binding:
    """A decoded request to bind a pod to a node (``namespace`` None: the request's)."""

    namespace: str | None
    pod: str
    node: str


class ApiVersion(ABC):
    """One wire version: a resource table and the conversions between its wire JSON and internal objects."""

    #: the version's name: ``/api/<name>/...`` and the ``apiVersion`` of its bodies
    name: str
    #: URL segment -> Resource; empty for a version that is registered but serves nothing yet
    resources: Mapping[str, Resource]
    #: what a watch stream sends before its first event and when idle (whitespace between JSON values).
    #: v1 sends a space: the official Python client yields ``None`` for an empty line.
    watch_filler: bytes = b"\n"

    @property
    def prefix(self) -> str:
        return f"/api/{self.name}"

    def resource(self, plural: str) -> Resource | None:
        return self.resources.get(plural)

    @property
    def serves_bindings(self) -> bool:
        return any("bindings" in r.verbs for r in self.resources.values())

    # ---- bodies ---------------------------------------------------------------------------------
    @abstractmethod
    def decode(self, res: Resource, body: dict, *, namespace: str, name: str | None = None) -> dict:
        """A request body -> the internal object. ``namespace`` is the request's; ``name``, for a write to one
        object, is the name in the URL (a body naming another object is an error)."""

    @abstractmethod
    def decode_status(self, res: Resource, body: dict, *, namespace: str, name: str) -> dict:
        """The body of a status write (``PUT .../<name>/status``) -> an internal object carrying the status."""

    @abstractmethod
    def decode_binding(self, body: dict) -> Binding:
        """The body of a binding request."""

    @abstractmethod
    def encode(self, obj: dict) -> dict:
        """An internal object -> its wire body."""

    def bookmark_line(self, res: Resource):
        """resourceVersion -> a BOOKMARK event line for a watch of ``res``; None: this version has none."""
        return None

    @abstractmethod
    def encode_list(self, res: Resource, items: list[dict], revision: int, self_link: str) -> dict:
        """Internal objects -> the wire list body."""

    def label_selector(self, selector: str) -> LabelSelector:
        """This version's label selector syntax -> a selector (2014's equality terms unless overridden)."""
        return parse_label_selector(selector)

    @abstractmethod
    def field_selector(self, res: Resource, selector: str) -> FieldSelector:
        """This version's field selector syntax and field names -> a selector over internal fields."""

    # ---- errors -------------------------------------------------------------------------------------
    @abstractmethod
    def error(self, exc: ApiError, res: Resource | None, obj: dict | None = None) -> ApiError:
        """An error of the registry (internal nouns and field paths) in this version's terms; ``obj`` is the
        internal object the request wrote, when it wrote one."""

    @abstractmethod
    def status_body(self, code: int, reason: str, message: str, *, kind: str = "", name: str = "",
                    causes: tuple[Cause, ...] | list[Cause] = (), retry_after_s: float | None = None) -> dict:
        """A failure Status body; ``kind`` is the internal kind the error is about."""

    @abstractmethod
    def success_body(self) -> dict:
        """The Status body of a success without an object (a delete, a binding)."""
