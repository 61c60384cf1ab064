import pytest

from restore.versions.paths import PathError, normalize, parse_unc

REJECTED = {
    "..": "not accepted",
    "Documents/../../bob": "not accepted",
    "Documents\\..\\x": "not accepted",
    "./notes.txt": "not accepted",
    "/etc/passwd": "absolute",
    "\\Documents": "absolute",
    "\\\\server\\share\\x": "UNC",
    "//server/share/x": "UNC",
    "C:\\Windows": "drive letters",
    "c:notes.txt": "drive letters",
    "@GMT-2026.11.01-10.00.00\\notes.txt": "@GMT-",
    "Documents\\@gmt-2026.11.01-10.00.00": "@GMT-",
    "notes.txt\x00.jpg": "NUL",
    "notes.txt:Zone.Identifier": "stream",
    "notes.txt::$DATA": "stream",
    "CON": "reserved device",
    "Documents\\nul.txt": "reserved device",
    "lpt1": "reserved device",
    "COM9.log": "reserved device",
    "a" * 256: "longer than 255",
    "x/" * 70: "deeper than",
    "Documents//notes.txt": "empty component",
    "notes.txt ": "end with a space",
    "notes.": "end with a space or a dot",
    "bad|name": "does not allow",
    "tab\there": "does not allow",
    "what?.txt": "does not allow",
}


@pytest.mark.parametrize("path,reason", REJECTED.items())
def test_unsafe_paths_are_rejected_with_a_reason(path, reason):
    with pytest.raises(PathError, match=reason):
        normalize(path)


@pytest.mark.parametrize("path,canonical", [
    ("", ""), ("/", ""), ("\\", ""), (None, ""),
    ("Documents", "Documents"),
    ("Documents/notes.txt", "Documents\\notes.txt"),
    ("Documents\\Old Project\\plan.txt", "Documents\\Old Project\\plan.txt"),
    ("Documents/", "Documents"),
    ("AppData/Roaming/Mozilla/Firefox/Profiles/k7x2abcd.default-release/places.sqlite-wal",
     "AppData\\Roaming\\Mozilla\\Firefox\\Profiles\\k7x2abcd.default-release\\places.sqlite-wal"),
    ("Budget 2026.xlsx", "Budget 2026.xlsx"),
    ("résumé (final) [2].docx", "résumé (final) [2].docx"),
    ("console.log", "console.log"),  # only the exact device names are reserved
    ("..hidden", "..hidden"),
])
def test_ordinary_paths_are_normalised(path, canonical):
    assert normalize(path) == canonical


def test_a_very_long_path_is_rejected():
    with pytest.raises(PathError, match="longer than"):
        normalize("a/" * 1100)


@pytest.mark.parametrize("unc,server,share,path", [
    ("\\\\fs1.corp.example\\profiles\\alice.V6", "fs1.corp.example", "profiles", "alice.V6"),
    ("\\\\127.0.0.1\\data\\alice", "127.0.0.1", "data", "alice"),
    ("\\\\FS1\\data$\\bob\\Documents", "fs1", "data$", "bob\\Documents"),
])
def test_unc_paths_are_split(unc, server, share, path):
    parsed = parse_unc(unc)
    assert (parsed.server, parsed.share, parsed.path) == (server, share, path)


@pytest.mark.parametrize("unc", ["fs1\\data", "\\\\\\data", "\\\\fs1\\IPC$", "\\\\fs1\\data\\..\\x", "\\\\a b\\data",
                                 "\\\\fs1\\data\\x:y"])
def test_bad_unc_paths_are_rejected(unc):
    with pytest.raises(PathError):
        parse_unc(unc)
