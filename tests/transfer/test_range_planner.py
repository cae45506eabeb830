"""Property tests of the engine's range planner (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3dlio.transfer import plan_ranges

spans = st.integers(min_value=0, max_value=1 << 40)


@settings(deadline=None)
@given(start=spans, part=st.integers(1, 1 << 30), count=st.integers(0, 200), tail=st.floats(0, 1))
def test_ranges_tile_the_span_exactly(start: int, part: int, count: int, tail: float) -> None:
    length = part * count + int((part - 1) * tail)  # any length, at most ~200 parts
    end = start + length
    ranges = plan_ranges(start, end, part)
    assert len(ranges) == -(-length // part)
    position = start
    for lo, hi in ranges:
        assert lo == position  # consecutive: no gap, no overlap, in order
        assert lo < hi <= end
        position = hi
    assert position == end
    assert all(hi - lo == part for lo, hi in ranges[:-1])  # only the last may be short


@given(start=spans, part=st.integers(1, 1 << 30))
def test_an_empty_span_has_no_ranges(start: int, part: int) -> None:
    assert plan_ranges(start, start, part) == []


@pytest.mark.parametrize(("start", "end", "part"), [(0, 10, 0), (0, 10, -1), (5, 4, 1), (-1, 4, 1)])
def test_invalid_plans_are_refused(start: int, end: int, part: int) -> None:
    with pytest.raises(ValueError):
        plan_ranges(start, end, part)
