"""Every page carries the portal's Content-Security-Policy; file previews keep their stricter
sandbox; the API docs page needs nothing from outside (Redoc is served by the portal)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders

from tests.support.history import generation

pytestmark = [pytest.mark.django_db, pytest.mark.samba]


def test_pages_carry_the_policy_and_previews_keep_their_sandbox(sign_in, settings):
    alice = sign_in("alice")
    for url in ("/", "/roots/data/", "/restores/", "/api/v1/me"):
        policy = alice.get(url)["Content-Security-Policy"]
        assert policy == settings.CONTENT_SECURITY_POLICY and "script-src 'self'" in policy
    preview = alice.get("/api/v1/roots/data/content", {"path": "Documents/notes.txt", "disposition": "inline"})
    assert preview["Content-Security-Policy"].startswith("sandbox")


def test_the_policy_can_be_turned_off(client, settings):
    settings.CONTENT_SECURITY_POLICY = ""
    assert "Content-Security-Policy" not in client.get("/signin/")


def test_pages_use_no_inline_scripts_or_event_handlers(sign_in):
    alice = sign_in("alice")
    for url in ("/", "/roots/data/?path=Documents", "/roots/data/file?path=Documents/notes.txt", "/restores/",
                "/search/"):
        page = alice.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url  # script-src 'self' would block it
        assert not re.search(r"\son[a-z]+=\"", page), url


def test_the_api_docs_page_loads_redoc_from_the_portal(client):
    page = client.get("/api/docs/").content.decode()
    assert "https://" not in page and "http://" not in page
    src = re.search(r'<script src="([^"]+)"', page).group(1)
    assert src.startswith("/static/drf_spectacular_sidecar/") and finders.find(src.removeprefix("/static/"))


def test_pages_write_utc_whatever_the_estates_time_zone_which_names_restored_sets(sign_in, settings, testenv):
    settings.TIME_ZONE = "Pacific/Auckland"  # never UTC+0
    alice = sign_in("alice")
    t1 = generation(testenv, "data", 0)
    utc = t1.at.strftime("%Y-%m-%d %H:%M")
    browse = alice.get("/roots/data/", {"path": "Documents", "at": t1.token}).content.decode()
    assert f"{utc} UTC</time>" in browse
    plan = alice.get("/restores/new", {"root": "data", "path": "Documents/notes.txt", "at": t1.token}).content.decode()
    local = t1.at.astimezone(ZoneInfo("Pacific/Auckland")).strftime("%Y-%m-%d %H%M")
    assert f"notes (restored {local})" in plan and local != t1.at.strftime("%Y-%m-%d %H%M")
