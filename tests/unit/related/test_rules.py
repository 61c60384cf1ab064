"""Related-file rules, pure: parsing and validation, glob matching, what a rule looks for, merging
and choosing what to restore (no file server here: see tests/integration/related/test_bundles.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from restore.admin import RelatedRuleForm
from restore.models import RelatedRule
from restore.related import rules as related

BASE = {"name": "my-rule", "application": "App", "reason": "They belong together.", "match": "**/*.x",
        "siblings": ["{name}.y"]}


def rule(**changes) -> related.Rule:
    data = BASE | changes
    return related.parse_rule({k: v for k, v in data.items() if v is not None}, "test")


def targets(r: related.Rule, path: str) -> list[tuple[str, str | None, bool]]:
    return [(t.folder, t.literal, t.is_folder) for t in r.targets(path)]


# --- the built-ins --------------------------------------------------------------------------------


def test_built_in_rules_parse_with_unique_names_and_one_line_reasons():
    rules = related.builtin_rules()
    assert len(rules) >= 12
    assert len({r.name for r in rules}) == len(rules)
    assert all(r.reason and "\n" not in r.reason and r.application for r in rules)


@pytest.mark.parametrize("path, rule_names", [
    ("AppData\\Roaming\\Mozilla\\Firefox\\Profiles\\k3x9.default-release\\places.sqlite",
     {"firefox-profile", "sqlite-journal", "folder-desktop-ini", "alternate-data-streams"}),
    ("UPM_Profile\\AppData\\Roaming\\Notepad++\\session.xml",
     {"notepad-plus-plus", "folder-desktop-ini", "alternate-data-streams"}),
    ("Documents\\GIS\\PARCELS.DBF", {"shapefile", "folder-desktop-ini", "alternate-data-streams"}),
    ("ledger.sqlite-wal", {"sqlite-database", "folder-desktop-ini", "alternate-data-streams"}),
    ("AppData\\Roaming\\Code\\User\\snippets\\python.json",
     {"vscode-user-settings", "folder-desktop-ini", "alternate-data-streams"}),
])
def test_built_ins_match_the_files_they_are_about(path, rule_names):
    assert {r.name for r in related.builtin_rules() if r.matches(path)} == rule_names


# --- globs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("glob, path, expected", [
    ("**/*.sqlite", "a.sqlite", True),  # ** is also no folder at all
    ("**/*.sqlite", "x/y/a.sqlite", True),
    ("**/*.sqlite", "a.sqlite-wal", False),
    ("**/*.SQLite", "X/A.SQLITE", True),  # case-insensitive, as Windows
    ("*.txt", "x/a.txt", False),  # * stays within one name
    ("x/**", "x/a/b", True),
    ("**/Profiles/*/prefs.js", "AppData/Profiles/abc.default/prefs.js", True),
    ("**/Profiles/*/prefs.js", "AppData/Profiles/a/b/prefs.js", False),
    ("**/*.{shp,dbf}", "g/p.dbf", True),
    ("**/*.{shp,dbf}", "g/p.prj", False),
    ("{a,b{1,2}}.txt", "b2.txt", True),
    ("file[0-9].txt", "file7.txt", True),
    ("file[!0-9].txt", "file7.txt", False),
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    ("a.b", "aXb", False),  # a dot is a dot
])
def test_globs_match_paths_within_the_root(glob, path, expected):
    assert bool(related.compile_glob((glob,)).fullmatch(path)) is expected


@pytest.mark.parametrize("name, parts", [
    ("places.sqlite", ("places", "sqlite")), ("places.sqlite-wal", ("places", "sqlite-wal")),
    ("Bookmarks", ("Bookmarks", "")), (".hidden", (".hidden", "")), ("a.b.c", ("a.b", "c")),
])
def test_names_split_into_stem_and_extension(name, parts):
    assert related.split_name(name) == parts


# --- what a rule looks for ------------------------------------------------------------------------


def test_siblings_sidecars_and_folders_are_looked_for_next_to_the_file():
    r = rule(match="**/*.jpg", siblings=["{name}.xmp", "{stem}-edit.*"], sidecars=[".thm"], folders=["{stem}_files/"])
    assert targets(r, "Pictures\\IMG_1.jpg") == [
        ("Pictures", "IMG_1.thm", False), ("Pictures", "IMG_1.jpg.xmp", False), ("Pictures", None, False),
        ("Pictures", "IMG_1_files", True)]
    assert targets(r, "Pictures\\IMG_1.png") == []


def test_a_files_own_name_is_literal_in_patterns_even_with_glob_characters():
    (sidecar,) = rule(match="**/*", siblings=["{name}-wal"]).targets("a[1]*.db")
    assert sidecar.literal == "a[1]*.db-wal"
    assert sidecar.regex.fullmatch("A[1]*.DB-WAL") and not sidecar.regex.fullmatch("a1x.db-wal")
    (wild,) = rule(match="**/*", siblings=["{stem}.*"]).targets("a[1].db")
    assert wild.literal is None and wild.regex.fullmatch("a[1].log") and not wild.regex.fullmatch("a1.log")


def test_a_set_is_relative_to_the_deepest_ancestor_matching_the_anchor():
    r = rule(match="**/User/**", anchor="**/User", siblings=None, set=["settings.json", "snippets/", "logs/*.log"])
    assert targets(r, "AppData\\Code\\User\\snippets\\python.json") == [
        ("AppData\\Code\\User", "settings.json", False), ("AppData\\Code\\User", "snippets", True),
        ("AppData\\Code\\User\\logs", None, False)]
    assert [t.folder for t in r.targets("User\\x\\User\\y.json")] == [
        "User\\x\\User", "User\\x\\User", "User\\x\\User\\logs"]


def test_a_set_without_an_anchor_is_relative_to_the_files_folder_and_a_missing_anchor_pulls_nothing():
    assert targets(rule(match="**/*.xml", siblings=None, set=["a.xml"]), "N\\config.xml") == [("N", "a.xml", False)]
    anchored = rule(match="**/*.xml", anchor="**/Nowhere", siblings=None, set=["a.xml"])
    assert anchored.targets("N\\config.xml") == []


def test_a_rule_applies_to_its_root_kinds_only():
    assert rule(root="profile").applies_to("profile") and not rule(root="profile").applies_to("data")
    assert rule(root=["profile", "home"]).applies_to("home")
    assert rule().applies_to("anything")  # root defaults to *
    assert not rule(enabled=False).applies_to("profile")


# --- validation: every error names the rule ------------------------------------------------------


@pytest.mark.parametrize("changes, message", [
    ({"reason": None}, "'reason' is required"),
    ({"reason": "two\nlines"}, "one line"),
    ({"reason": "x" * 301}, "one line of at most 300"),
    ({"application": ""}, "'application' is required"),
    ({"match": None}, "'match' is required"),
    ({"match": []}, "'match' must be a string or a non-empty list"),
    ({"match": "**/*.{a,b"}, "unbalanced"),
    ({"match": "/abs/*.x"}, "not a relative path glob"),
    ({"match": "a**b/c"}, "'**' must be a whole path component"),
    ({"match": "x[.txt"}, "unclosed"),
    ({"root": "Profile!"}, "not a kind name"),
    ({"root": []}, "'root' must be a string or a non-empty list"),
    ({"siblings": ["{nmae}-wal"]}, "unknown placeholder {nmae}"),
    ({"siblings": ["../x"]}, "must be a name in the same folder"),
    ({"siblings": ["x:stream"]}, "alternate data stream"),
    ({"siblings": ["CON"]}, "reserved device name"),
    ({"siblings": "x"}, "'siblings' must be a list of strings"),
    ({"set": ["*/prefs.js"], "siblings": None}, "wildcards are allowed in the last name only"),
    ({"set": ["../../etc/x"], "siblings": None}, "not accepted in a path"),
    ({"anchor": "**/User"}, "'anchor' is only used by 'set'"),
    ({"siblings": None}, "pulls nothing"),
    ({"streams": "yes"}, "'streams' must be true or false"),
    ({"enabled": "no"}, "'enabled' must be true or false"),
    ({"colour": "red"}, "unknown key(s) colour"),
])
def test_an_invalid_rule_is_refused_with_a_message_naming_it(changes, message):
    with pytest.raises(related.RuleError) as caught:
        rule(**changes)
    assert "my-rule" in str(caught.value) and message in str(caught.value)


@pytest.mark.parametrize("name", ["", "Upper", "has space", "-leading", "x" * 65, 7])
def test_a_rule_needs_a_simple_name(name):
    with pytest.raises(related.RuleError, match="'name' must be"):
        related.parse_rule(BASE | {"name": name}, "test")


def test_a_switched_off_rule_needs_only_its_name():
    off = related.parse_rule({"name": "sqlite-journal", "enabled": False}, "test")
    assert not off.enabled and not off.applies_to("data") and off.targets("a.sqlite") == []


@pytest.mark.parametrize("text, message", [
    ('[[rule]]\nname = "a"\nmatch = ', "is not valid TOML"),
    ('[[rule]]\nname = "twice"\napplication = "A"\nreason = "R."\nmatch = "*"\nstreams = true\n' * 2,
     "rule 'twice' is defined twice"),
    ('title = "rules"\n', "unknown top-level key(s) title"),
    ('rule = "x"\n', "must be [[rule]] tables"),
])
def test_a_rule_file_that_cannot_be_used_names_the_file(text, message):
    with pytest.raises(related.RuleError) as caught:
        related.parse_rules(text, "/etc/vdiprotect/rules.toml")
    assert "/etc/vdiprotect/rules.toml" in str(caught.value) and message in str(caught.value)


# --- the catalog ----------------------------------------------------------------------------------


def test_later_layers_replace_rules_by_name_in_place_and_add_new_ones_after():
    a, b, c = rule(name="a"), rule(name="b"), rule(name="c")
    b2 = rule(name="b", reason="Replaced.")
    assert [(r.name, r.reason) for r in related.merge([a, b], [b2, c])] == [
        ("a", a.reason), ("b", "Replaced."), ("c", c.reason)]


def test_the_rule_file_is_read_and_re_read_when_it_changes(settings, tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "one"\napplication = "A"\nreason = "R."\nmatch = "*"\nstreams = true\n')
    settings.RELATED_RULES_FILE = str(path)
    assert [r.name for r in related.file_rules()] == ["one"]
    path.write_text('[[rule]]\nname = "other"\napplication = "A"\nreason = "Two."\nmatch = "*"\nstreams = true\n')
    assert [(r.name, r.source) for r in related.file_rules()] == [("other", str(path))]
    settings.RELATED_RULES_FILE = ""
    assert related.file_rules() == ()


def test_an_invalid_or_missing_rule_file_is_improperly_configured(settings, tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "bad-rule"\napplication = "A"\nreason = "R."\nmatch = "*"\n')
    settings.RELATED_RULES_FILE = str(path)
    with pytest.raises(ImproperlyConfigured, match="RELATED_RULES_FILE: .*bad-rule.*pulls nothing"):
        related.file_rules()
    settings.RELATED_RULES_FILE = str(tmp_path / "missing.toml")
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        related.file_rules()


def test_an_admin_rule_reads_like_a_rule_file_table_and_is_validated():
    row = RelatedRule(name="vscode-insiders", application="VS Code Insiders", reason="Same as VS Code.",
                      roots="profile, data", match="**/Code - Insiders/User/settings.json\n\n**/x.json",
                      anchor="**/Code - Insiders/User", config_set="settings.json\nsnippets/", sidecars="bak, .old")
    parsed = related.parse_rule(row.as_rule_data(), "admin")
    assert parsed.roots == ("profile", "data") and len(parsed.match) == 2
    assert [(p.pattern, p.folder, p.from_anchor) for p in parsed.pulls] == [
        ("{stem}.bak", False, False), ("{stem}.old", False, False), ("settings.json", False, True),
        ("snippets", True, True)]
    fields = {f.name: getattr(row, f.name) for f in RelatedRule._meta.concrete_fields
              if f.name not in ("id", "updated_at")}
    form = RelatedRuleForm(data=fields)
    form.validate_unique = lambda: None  # the name's uniqueness would need the database
    assert form.is_valid(), form.errors
    form = RelatedRuleForm(data={**fields, "siblings": "{oops}"})
    form.validate_unique = lambda: None
    assert not form.is_valid()
    assert "unknown placeholder" in str(form.errors) and "vscode-insiders" in str(form.errors)
