"""lazyfs's dirty ranges against a plain bytearray model (no FUSE needed)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from raftkube.testing.lazyfs import DirtyRanges

OPS = st.lists(st.one_of(
    st.tuples(st.just("write"), st.integers(0, 300), st.binary(min_size=1, max_size=80)),
    st.tuples(st.just("truncate"), st.integers(0, 400), st.just(b"")),
), max_size=40)


def _model_apply(model: dict[int, int], op, offset, data) -> None:
    if op == "write":
        model.update((offset + i, b) for i, b in enumerate(data))
    else:
        for k in [k for k in model if k >= offset]:
            del model[k]


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_dirty_ranges_match_a_byte_model(ops):
    ranges, model = DirtyRanges(), {}
    for op, offset, data in ops:
        (ranges.write(offset, data) if op == "write" else ranges.truncate(offset))
        _model_apply(model, op, offset, data)
    items = [(start, bytes(buf)) for start, buf in ranges.items()]
    assert all(buf for _, buf in items)  # no empty ranges
    assert all(a + len(b) < c for (a, b), (c, _) in zip(items, items[1:]))  # sorted, apart, not touching
    assert {s + i: b for s, buf in items for i, b in enumerate(buf)} == model
    assert ranges.nbytes == len(model)
    for offset, size in [(0, 500), (37, 19), (150, 200)]:
        buf = bytearray(b"-" * size)
        ranges.overlay(buf, offset)
        assert bytes(buf) == bytes(model.get(offset + i, ord("-")) for i in range(size))


def test_appends_extend_one_range_in_place():
    ranges = DirtyRanges()
    for i in range(100):
        ranges.write(i * 10, b"x" * 10)
    assert [(s, len(b)) for s, b in ranges.items()] == [(0, 1000)]
