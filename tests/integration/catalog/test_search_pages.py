"""Search results ranked and paged (issue 22): exact name first, then newest; a cursor walks the pages
without losing or repeating a hit; a cursor the portal did not give is a 400 that records nothing."""

from __future__ import annotations

import pytest

from restore.catalog import build, sources
from restore.models import AuditEvent
from restore.versions.paths import Unc

pytestmark = [pytest.mark.django_db, pytest.mark.samba]


@pytest.fixture
def catalogued():
    source = sources.register(Unc("127.0.0.1", "data"))
    assert not build.build_source(source.id).error


def search(client, **params):
    response = client.get("/api/v1/search", {"root": "data", **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_exact_name_comes_first_then_the_newest(catalogued, alice):
    results = search(alice, q="desktop")["results"]  # the folder Desktop, then the desktop.ini files
    names = [r["name"].lower() for r in results]
    assert names[0] == "desktop" and len(names) > 1 and "desktop.ini" in names[1:], names
    others = [r["last_seen"] for r in results[1:]]
    assert others == sorted(others, reverse=True)  # tokens sort as times: newest first


def test_pages_by_cursor_hold_every_hit_once_in_the_same_order(catalogued, alice):
    whole = search(alice, q="*.txt", limit=200)
    assert whole["next_cursor"] is None and len(whole["results"]) >= 3
    seen, cursor = [], None
    while True:
        page = search(alice, q="*.txt", limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["results"]) <= 2
        seen += [(r["path"], r["kind"]) for r in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [(r["path"], r["kind"]) for r in whole["results"]]


def test_a_forged_cursor_is_refused_with_a_reason_and_records_nothing(catalogued, alice):
    before = AuditEvent.objects.filter(action="search").count()
    response = alice.get("/api/v1/search", {"q": "notes", "cursor": "eyJub3QiOiJvdXJzIn0"})
    assert response.status_code == 400 and "first page" in response.content.decode()
    assert AuditEvent.objects.filter(action="search").count() == before
    page = alice.get("/search/", {"q": "notes", "cursor": "%%%"})
    assert page.status_code == 400 and "first page" in page.content.decode()


def test_the_page_links_to_the_next_page(catalogued, alice):
    html = alice.get("/search/", {"q": "*.txt", "root": "data", "limit": 1}).content.decode()
    assert "More results" in html and "cursor=" in html
