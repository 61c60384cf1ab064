"""The built-in related-file rules speak the reader's language: restore/related/reasons.py holds exactly the
applications and reasons of restore/related/related_rules.toml (makemessages reads no TOML, so a rule's
text changed in one place and not the other would quietly stay English), each is translated in every
catalog, and an administrator's own rule is shown as written."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation

from restore.related import bundles, reasons
from restore.related import rules as related
from restore.restores.messages import translated

LANGUAGES = [code for code, _ in settings.LANGUAGES if code != "en"]


def test_the_marked_texts_are_exactly_those_of_the_built_in_rules():
    built_in = related.builtin_rules()
    assert len(built_in) == 21
    assert set(reasons.REASONS) == {r.reason for r in built_in}
    assert set(reasons.APPLICATIONS) == {r.application for r in built_in}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_built_in_reason_and_why_an_item_is_left_out_is_translated(language):
    with translation.override(language):
        untranslated = [text for text in (*reasons.REASONS, bundles.SKIP_UNREADABLE, bundles.SKIP_NO_PERMISSIONS)
                        if translated(text) == text]
    assert not untranslated, f"{language}: {untranslated[:3]}"


def test_a_reason_reads_naturally_and_keeps_its_file_names():
    firefox = next(r for r in related.builtin_rules() if r.name == "firefox-profile")
    teams = next(r for r in related.builtin_rules() if r.name == "teams-settings")
    with translation.override("de"):
        assert translated(firefox.reason) == (
            "Firefox speichert Lesezeichen und Chronik in places.sqlite, ihre Symbole in favicons.sqlite und die "
            "zugehörigen Einstellungen in prefs.js; Dateien von verschiedenen Tagen passen nicht zusammen.")
        assert translated(teams.reason).endswith("in Backgrounds\\Uploads.")
        assert translated("Windows Explorer") == "Windows-Explorer"
        assert translated("Mozilla Firefox") == "Mozilla Firefox"
        assert translated(bundles.SKIP_UNREADABLE) == "Sie dürfen es in diesem Snapshot nicht lesen"
    with translation.override("fr"):
        assert translated("Photo editors and cameras") == "Logiciels photo et appareils photo"


def test_an_administrators_own_rule_is_shown_as_written():
    own = related.parse_rule({"name": "cad-project", "application": "Our CAD tool", "match": "**/*.prj",
                              "reason": "The CAD project needs its drawings.", "siblings": ["{stem}.dwg"]}, "test")
    with translation.override("de"):
        assert (translated(own.application), translated(own.reason)) == (
            "Our CAD tool", "The CAD project needs its drawings.")
        assert translated("") == ""
