"""core/v1, the API stock kubectl and the official clients speak (a first slice of issue 16).

Modules: ``resources`` (table and discovery), ``convert`` (wire <-> internal), ``tables`` (Table
responses), ``version`` (all of it as one ``ApiVersion``).
"""

from raftkube.apis.v1.version import VERSION

__all__ = ["VERSION"]
