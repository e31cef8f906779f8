"""core/v1's set-based label selectors (``parse_set_selector``) and v1beta1 keeping its 2014 parser."""

from __future__ import annotations

import pytest

from raftkube.apis.v1 import VERSION as V1
from raftkube.apis.v1beta1 import VERSION as V1BETA1
from raftkube.model.errors import BadRequest
from raftkube.model.selectors import parse_set_selector


@pytest.mark.parametrize("selector,labels,expected", [
    ("app in (a,b)", {"app": "a"}, True),
    ("app in (a, b)", {"app": "b"}, True),
    ("app in (a,b)", {"app": "c"}, False),
    ("app in (a,b)", {}, False),
    ("app notin (a,b)", {"app": "c"}, True),
    ("app notin (a,b)", {}, True),
    ("app notin (a,b)", {"app": "a"}, False),
    ("app", {"app": ""}, True),
    ("app", {"tier": "x"}, False),
    ("!app", {"tier": "x"}, True),
    ("!app", {"app": "x"}, False),
    ("app in (a,b),tier=front", {"app": "a", "tier": "front"}, True),
    ("app in (a,b),tier=front", {"app": "a", "tier": "back"}, False),
    (" app = a , tier != x ", {"app": "a"}, True),
    ("app==a", {"app": "a"}, True),
    ("env!=prod", {}, True),
    ("example.com/role in (db)", {"example.com/role": "db"}, True),
    ("", {"any": "thing"}, True),
])
def test_set_selector_matches(selector, labels, expected):
    assert parse_set_selector(selector).matches(labels) is expected


@pytest.mark.parametrize("selector", [
    "app in (a,b", "app in a,b)", "app in ()", "app in (a,,b)", "app in (a b)", "app=a b", "a,", "app in ((a))",
    "-bad", "app in (a!)", "app=!x", "app >< 3", "x/y/z",
])
def test_bad_set_selectors_are_400(selector):
    with pytest.raises(BadRequest) as e:
        parse_set_selector(selector)
    assert e.value.code == 400 and "unable to parse requirement" in e.value.message


def test_set_selector_string_is_canonical():
    assert str(parse_set_selector("tier, app notin (b,a), !canary")) == "!canary,app notin (a,b),tier"


def test_v1_takes_set_terms_and_v1beta1_keeps_the_2014_syntax():
    assert V1.label_selector("app in (a,b)").matches({"app": "b"})
    with pytest.raises(BadRequest):
        V1BETA1.label_selector("app in (a,b)")
    # what v1beta1 accepted keeps its meaning: no trimming, a value may hold spaces
    beta = V1BETA1.label_selector("a=b c")
    assert beta.matches({"a": "b c"}) and not beta.matches({"a": "b"})
