"""The catalog's pure logic: search queries, folder digests and diffs, intervals, version grouping."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from restore.catalog.logic import (
    BadQuery,
    Child,
    Row,
    ancestors,
    diff_folder,
    group_versions,
    listing_digest,
    parse_query,
    present,
    walk_order,
)
from restore.versions.paths import path_key

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


# --- queries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, why", [
    ("", "at least 2"), ("   ", "at least 2"), (None, "at least 2"), ("a", "at least 2"), ("*", "at least 2"),
    ("a*", "at least 2"), ("??", "at least 2"), ("x" * 256, "longer than 255"),
    ("Documents\\notes", "cannot contain"), ("a/b", "cannot contain"), ("notes:1", "cannot contain"),
    ('"quoted"', "cannot contain"), ("a|b", "cannot contain"), ("tab\there", "cannot contain"),
])
def test_bad_queries_are_refused_with_a_reason(raw, why):
    with pytest.raises(BadQuery, match=why):
        parse_query(raw)


def test_a_plain_query_is_a_case_insensitive_substring():
    query = parse_query("  Report ")
    assert not query.glob and query.text == "Report"
    assert query.matches("Q3 REPORT final.docx") and query.matches("report.docx")
    assert not query.matches("repo.docx")


@pytest.mark.parametrize("pattern, name, expected", [
    ("*.xlsx", "Budget 2026.XLSX", True),
    ("*.xlsx", "Budget 2026.xlsx.bak", False),
    ("report-202?.docx", "Report-2024.docx", True),
    ("report-202?.docx", "report-20245.docx", False),
    ("a*b*c", "aXXbYYc", True),
    ("a*b*c", "aXXbYY", False),
    ("*[ab].txt", "x[ab].txt", True),  # brackets are literal, not sets
    ("*[ab].txt", "xa.txt", False),
    ("*.+(x)", "y.+(x)", True),  # regex characters are literal
    ("*.+(x)", "y.+x", False),
])
def test_a_glob_matches_the_whole_name_and_its_regex_agrees(pattern, name, expected):
    query = parse_query(pattern)
    assert query.glob
    assert query.matches(name) is expected
    assert bool(re.match(query.regex.upper(), name.upper())) is expected  # what the database is asked


# --- folders -----------------------------------------------------------------------------------


def child(name, size=1, minutes=0, is_dir=False, sd=""):
    t = T0 + timedelta(minutes=minutes)
    return Child(name, is_dir, size, t, t, 0x10 if is_dir else 0x20, sd)


def row(name, size=1, minutes=0, is_dir=False, sd=None, version_id=1, entry_id=1):
    t = T0 + timedelta(minutes=minutes)
    return Row(version_id, entry_id, name, is_dir, size, t, t, 0x10 if is_dir else 0x20, sd)


def test_the_digest_ignores_listing_order_and_sees_every_change():
    a = [child("a.txt"), child("b", is_dir=True), child("c.txt", 5)]
    assert listing_digest(a) == listing_digest(list(reversed(a)))
    for changed in ([child("a.txt", 2), a[1], a[2]], [child("a.txt", minutes=1), a[1], a[2]],
                    [child("A.txt"), a[1], a[2]], a[:2], [child("a.txt", sd="x" * 64), a[1], a[2]]):
        assert listing_digest(changed) != listing_digest(a)


def _digest_as_stored_before(children):
    """listing_digest as written in round one: digests stored then must still match (or every folder
    would be compared again once)."""
    import hashlib

    from restore.smb.types import to_filetime

    digest = hashlib.sha256()
    for c in sorted(children, key=lambda c: (c.name, c.is_dir)):
        sd = "-" if c.sd is None else c.sd
        digest.update(f"{c.name}\0{int(c.is_dir)}\0{c.size}\0{to_filetime(c.last_write)}\0"
                      f"{to_filetime(c.changed)}\0{c.attributes}\0{sd}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def test_the_digest_is_the_one_stored_by_earlier_versions():
    import random

    rng = random.Random(7)
    names = ["a.txt", "A.txt", "b", "Ünïcode.docx", "lone\udcff surrogate", "x" * 200, "same", "same"]
    for _ in range(200):
        kids = [Child(rng.choice(names), rng.random() < 0.3, rng.randrange(0, 10**12),
                      T0 + timedelta(microseconds=rng.randrange(-10**15, 10**15)),
                      T0 + timedelta(microseconds=rng.randrange(0, 10**12)), rng.randrange(0, 2**32),
                      rng.choice([None, "", "f" * 64]))
                for _ in range(rng.randrange(0, 12))]
        assert listing_digest(kids) == _digest_as_stored_before(kids)


def test_the_diff_finds_added_changed_removed_and_unchanged():
    rows = [row("same.txt", version_id=1), row("grown.txt", 1, version_id=2), row("gone.txt", version_id=3),
            row("Folder", is_dir=True, version_id=4)]
    children = [child("same.txt"), child("grown.txt", 9), child("new.txt"), child("Folder", is_dir=True)]
    diff = diff_folder(children, rows, compare_sd=False)
    assert [c.name for c in diff.added] == ["new.txt"]
    assert [(r.version_id, c.size) for r, c in diff.changed] == [(2, 9)]
    assert [r.version_id for r in diff.removed] == [3]
    assert diff.unchanged == 2 and not diff.renamed
    assert [c.name for c in diff.needs_sd()] == ["new.txt", "grown.txt"]


def test_an_acl_change_alone_is_a_change_only_when_sds_are_compared():
    rows = [row("f.txt", sd="a" * 64)]
    assert diff_folder([child("f.txt", sd="b" * 64)], rows, compare_sd=True).changed
    assert not diff_folder([child("f.txt", sd="")], rows, compare_sd=False).changed
    unknown = [row("f.txt", sd=None)]
    assert not diff_folder([child("f.txt", sd=None)], unknown, compare_sd=True).changed  # still unknown


def test_a_file_replaced_by_a_folder_of_the_same_name_is_removed_and_added():
    diff = diff_folder([child("x", is_dir=True)], [row("x")], compare_sd=False)
    assert [c.name for c in diff.added] == ["x"] and [r.name for r in diff.removed] == ["x"]


def test_a_change_of_case_only_is_a_rename_not_a_new_version():
    diff = diff_folder([child("Notes.TXT")], [row("notes.txt")], compare_sd=False)
    assert diff.unchanged == 1 and [(r.name, c.name) for r, c in diff.renamed] == [("notes.txt", "Notes.TXT")]


# --- intervals and grouping ----------------------------------------------------------------------


def test_an_interval_covers_the_catalogued_snapshots_inside_it():
    indices = [0, 1, 3, 4, 7]  # 2, 5 and 6 are gone from the server
    assert present(1, 4, indices) == [1, 3, 4]
    assert present(5, 6, indices) == []
    assert present(3, None, indices) == [3, 4, 7]


def test_versions_group_like_the_timeline_newest_first():
    t1, t2 = T0, T0 + timedelta(days=1)
    versions = group_versions([(0, 10, t1), (1, 10, t1), (2, 20, t2), (4, 10, t1)])
    assert [(v.size, v.indices) for v in versions] == [(10, (4,)), (20, (2,)), (10, (1, 0))]


def test_ancestors_run_from_the_root_to_the_parent():
    assert ancestors("alice", "alice\\Documents\\Old Project\\plan.txt") == [
        "alice", "alice\\Documents", "alice\\Documents\\Old Project"]
    assert ancestors("", "alice\\notes.txt") == ["", "alice"]
    assert ancestors("Alice", "alice\\x.txt") == ["Alice"]
    with pytest.raises(ValueError):
        ancestors("alice", "bob\\x.txt")


def test_path_keys_ignore_case():
    assert path_key("Alice\\Notes.txt") == path_key("alice\\notes.TXT") != path_key("alice\\notes.txt2")


def test_the_walk_order_of_a_known_tree_is_depth_first_by_lower_cased_path():
    folders = [(2, 1, "r\\b"), (3, 1, "r\\A"), (4, 3, "r\\A\\z"), (5, 3, "r\\A\\y"), (6, 2, "r\\b\\c"), (7, 9, "x\\gone")]
    assert walk_order(1, folders) == [3, 5, 4, 2, 6]  # what is not below the root is left out
    assert walk_order(1, []) == []
