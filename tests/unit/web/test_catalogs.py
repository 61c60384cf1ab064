"""The translations are complete and in step with the sources: every string the templates and the code
mark for translation is in each catalog (de, fr, es, nl) with a translation that is neither empty nor
fuzzy, nothing stale is left, placeholders match (msgfmt --check), and the compiled .mo the portal reads
is not older than its .po. A new or changed string fails here until every catalog has it."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[3]
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != "en"]
SOURCES = ("restore", "templates", "vdiprotect", "manage.py")  # where makemessages looks (as scripts run it)


def entries(po: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgid_plural, msgstr / msgstr[n], and its flags."""
    found = []
    for block in po.read_text(encoding="utf-8").strip().split("\n\n"):
        entry, key = {"flags": ""}, None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith("#"):
                continue
            elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (".*")$', line):
                key = match[1]
                entry[key] = ast.literal_eval(match[2])
            elif line.startswith('"') and key:
                entry[key] += ast.literal_eval(line)
        if entry.get("msgid"):
            found.append(entry)
    return found


def catalog(language: str) -> Path:
    return REPO / "locale" / language / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_has_a_translation_that_is_not_fuzzy(language):
    untranslated = [e["msgid"] for e in entries(catalog(language))
                    if "fuzzy" in e["flags"] or not all(v for k, v in e.items() if k.startswith("msgstr"))]
    assert not untranslated, f"{catalog(language)}: translate {untranslated[:10]} (and remove any #, fuzzy)"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_and_plurals_match_the_english(language):
    checked = subprocess.run(["msgfmt", "--check", "-o", os.devnull, str(catalog(language))],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_is_not_older_than_its_source(language):
    mo = catalog(language).with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= catalog(language).stat().st_mtime, (
        f"{mo} is missing or older than its .po: run scripts/setup (it runs compilemessages)")


def test_the_catalogs_hold_exactly_the_strings_of_the_sources(tmp_path):
    """makemessages over a copy of the sources: what it finds and what the catalogs hold must be the same."""
    for name in SOURCES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, tmp_path / name)
    shutil.copytree(REPO / "locale", tmp_path / "locale")
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "vdiprotect.settings"}
    made = subprocess.run([sys.executable, "manage.py", "makemessages", "--no-obsolete", "--add-location", "file",
                           *[f"-l{code}" for code in LANGUAGES]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    for language in LANGUAGES:
        wanted = {e["msgid"] for e in entries(tmp_path / "locale" / language / "LC_MESSAGES" / "django.po")}
        held = {e["msgid"] for e in entries(catalog(language))}
        assert not wanted - held, f"{language}: not in the catalog yet: {sorted(wanted - held)[:10]} (run makemessages)"
        assert not held - wanted, f"{language}: no longer in the sources: {sorted(held - wanted)[:10]}"
