"""FILETIME <-> datetime (restore/smb/types.py): four conversions per listed object, so they are plain
integer arithmetic; they must stay exact to the microsecond on both sides of 1970."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from restore.smb.types import from_filetime, to_filetime

EPOCH_1970 = 116444736000000000


@pytest.mark.parametrize("when, filetime", [
    (datetime(1601, 1, 1, tzinfo=UTC), 0),
    (datetime(1970, 1, 1, tzinfo=UTC), EPOCH_1970),
    (datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), EPOCH_1970 - 10),
    (datetime(2026, 12, 7, 19, 30, 0, 123456, tzinfo=UTC), EPOCH_1970 + (1796671800 * 1_000_000 + 123456) * 10),
])
def test_known_times(when, filetime):
    assert to_filetime(when) == filetime
    assert from_filetime(filetime) == when


def test_round_trips_to_the_microsecond_and_drops_the_100ns_digit():
    rng = random.Random(22)
    for _ in range(20_000):
        value = rng.randrange(0, 2_650_000_000_000_000_000)
        assert to_filetime(from_filetime(value)) == value // 10 * 10
    offset = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=1)
    assert to_filetime(offset.astimezone(UTC)) == to_filetime(offset)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        to_filetime(datetime(2026, 1, 1))
