"""core/v1, the API stock kubectl and the official clients speak: registered, with an empty resource table.

The core/v1 work fills it the way ``apis/v1beta1/`` is built (resource table, conversion per kind, field
paths, Status bodies). Until then it serves nothing: ``/api`` does not list it and ``/api/v1/...`` answers
as any unknown path does.
"""

from raftkube.apis.v1.version import VERSION

__all__ = ["VERSION"]
