"""The diff's pure parts: decoding what Windows editors write, and the hunks with line numbers."""

from __future__ import annotations

import codecs

import pytest

from restore.versions.diff import TextDiff, _fill, decode_text


@pytest.mark.parametrize("data, text", [
    (b"plain\n", "plain\n"),
    (codecs.BOM_UTF8 + "caf\u00e9\n".encode(), "caf\u00e9\n"),
    (codecs.BOM_UTF16_LE + "Notepad\r\n".encode("utf-16-le"), "Notepad\r\n"),
    (codecs.BOM_UTF16_BE + "big end\n".encode("utf-16-be"), "big end\n"),
    ("na\u00efve\n".encode("cp1252"), "na\u00efve\n"),  # not UTF-8: Windows-1252
])
def test_text_is_decoded_from_its_bom_or_utf8_or_windows_1252(data, text):
    assert decode_text(data) == text


def test_nul_bytes_without_a_utf16_bom_mean_binary():
    assert decode_text(b"PK\x03\x04\x00\x00") is None


def test_hunks_carry_context_and_line_numbers_and_counts_survive_truncation(settings):
    old = [f"line {i}" for i in range(1, 21)]
    new = old[:4] + ["inserted"] + old[4:15] + old[16:]  # one inserted after 4, line 16 removed
    result = TextDiff(old="a", new="b", state="different")
    _fill(result, old, new)
    assert (result.added, result.removed, result.truncated) == (1, 1, False)
    kinds = [(line.kind, line.text, line.old_no, line.new_no) for line in result.lines]
    assert kinds[0] == ("hunk", "@@ -2,6 +2,7 @@", None, None)
    assert ("added", "inserted", None, 5) in kinds and ("removed", "line 16", 16, None) in kinds
    assert ("context", "line 5", 5, 6) in kinds
    assert sum(1 for k in kinds if k[0] == "hunk") == 2

    settings.DIFF_MAX_LINES = 3
    small = TextDiff(old="a", new="b", state="different")
    _fill(small, old, new)
    assert small.truncated and len(small.lines) == 3 and (small.added, small.removed) == (1, 1)
