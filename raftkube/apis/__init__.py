"""The wire versions of the API, one package each, at the edge: the HTTP layer and the HTTP client.

Each version converts between its wire JSON and the internal model (``raftkube/model/``), which knows no
version. ``VERSIONS`` is what a master registers, the preferred one first: it also answers the requests that
reach no version (an unknown path's 404 is a Status of the preferred version).
"""

from raftkube.apis import v1, v1beta1
from raftkube.apis.version import ApiVersion, Binding, Resource

VERSIONS: tuple[ApiVersion, ...] = (v1beta1.VERSION, v1.VERSION)

__all__ = ["ApiVersion", "Binding", "Resource", "VERSIONS"]
