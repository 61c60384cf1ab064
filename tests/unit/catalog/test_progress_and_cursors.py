"""Pure parts of issue 22: the time left told to people while a catalog is built, and search cursors."""

import base64
import json

import pytest

from restore.catalog.logic import BadQuery, cursor_key, describe_progress, encode_cursor, seconds_left


def test_time_left_comes_from_the_snapshots_after_the_first_which_costs_most():
    # the first snapshot took 600 s (every object new), the next ones 30 s each; 4 wait, one half done
    assert seconds_left([600, 30, 30, 30], 4, current_elapsed=15) == 30 * 4 - 15
    assert seconds_left([600], 2, current_elapsed=None) == 1200  # only the first known: it is all there is
    assert seconds_left([], 3, current_elapsed=10) is None  # nothing done yet: not known
    assert seconds_left([600, 30], 0, current_elapsed=None) == 0


def test_progress_reads_as_a_person_would_say_it():
    assert describe_progress(12, 30, 120) == "catalogued 12 of 30 snapshots, about 2 minutes left"
    assert describe_progress(0, 30, None) == "catalogued 0 of 30 snapshots, time left not known yet"
    assert describe_progress(30, 30, 0) == "catalogued all 30 snapshots"
    assert describe_progress(1, 3, 30) == "catalogued 1 of 3 snapshots, about a minute left"
    assert describe_progress(1, 900, 3 * 3600) == "catalogued 1 of 900 snapshots, about 3 hours left"


def test_a_cursor_gives_back_the_rank_it_was_made_from():
    key = (0, -1764000000.5, "data", "documents\\ü report.docx", False)
    assert cursor_key(encode_cursor(key)) == key


@pytest.mark.parametrize("cursor", [
    "", "not base64 at all!", base64.urlsafe_b64encode(b"[1,2]").decode(),
    base64.urlsafe_b64encode(json.dumps([2, 0, "data", "x", False]).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps([0, True, "data", "x", False]).encode()).decode(),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(), "A" * 3000,
])
def test_a_cursor_the_portal_did_not_give_is_refused_with_a_reason(cursor):
    with pytest.raises(BadQuery, match="start again from the first page"):
        cursor_key(cursor)
