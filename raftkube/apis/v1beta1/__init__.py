"""The 2014 wire format (``pkg/api/v1beta1``): resource table, reader, conversion per kind, field paths and
selectors, Status bodies.

The modules, one job each: ``resources`` (URL names, wire kinds, message nouns, verbs), ``reader`` (typed
reading with wire paths), ``meta`` (id, namespace, labels, ...), ``manifest`` (containers and volumes),
``pod``, ``controller``, ``service``, ``endpoints``, ``node``, ``event`` (one kind each), ``convert`` (the
entry points), ``paths`` and ``validation`` (internal field paths -> v1beta1 ones), ``fields`` (field
selectors), ``errors`` (Status bodies, error translation), ``version`` (all of it as one ``ApiVersion``).
"""

from raftkube.apis.v1beta1.convert import from_wire, list_from_wire, list_to_wire, to_wire
from raftkube.apis.v1beta1.fields import parse_field_selector, selector_to_wire
from raftkube.apis.v1beta1.manifest import RESTART_TO_WIRE
from raftkube.apis.v1beta1.meta import check_type_meta, delete_options
from raftkube.apis.v1beta1.pod import phase_from_wire, phase_to_wire, pod_status_from_wire
from raftkube.apis.v1beta1.resources import API_PREFIX, API_VERSION, RESOURCES, RESOURCES_BY_KIND
from raftkube.apis.v1beta1.version import VERSION
from raftkube.apis.version import Resource

__all__ = ["API_PREFIX", "API_VERSION", "RESOURCES", "RESOURCES_BY_KIND", "RESTART_TO_WIRE", "Resource", "VERSION",
           "check_type_meta", "delete_options", "from_wire", "list_from_wire", "list_to_wire", "parse_field_selector", "phase_from_wire",
           "phase_to_wire", "pod_status_from_wire", "selector_to_wire", "to_wire"]
