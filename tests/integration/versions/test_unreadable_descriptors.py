"""A file whose ACL does not let the portal's service account read its permissions (a protected ACL
naming only its owner, common in home folders) is hidden per entry, never per folder: listing,
timeline, search and restore planning answer 200 with the entry left out and say how many and why.

Found against Samba 4.17 (and still so in Samba's master): smbd ignores FILE_OPEN_FOR_BACKUP_INTENT
on SMB2 opens (every open path passes use_privs=false), so even with SeBackupPrivilege granted to
the service group (scripts/testenv) the descriptor stays unreadable and the entry hidden, with
SMB_BACKUP_INTENT on or off. On Windows the privilege plus backup intent reads it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from restore import smb
from restore.catalog import build, sources
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor
from restore.smb import client as smb_client
from restore.smb import packed
from restore.smb import wire
from restore.versions.paths import Unc
from tests.support.scratch import DACL_AND_OWNER, FULL, READ, SERVER, SHARE, ScratchArea, give_root

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

REASON = "the portal cannot read their permissions"


def owner_only(area: ScratchArea, rel: str) -> None:
    """A protected ACL naming only alice, its owner: no SYSTEM, no service group."""
    alice = area.sids["alice"]
    sd = SecurityDescriptor(owner=alice, group=None, dacl=(Ace(0x00, 0, FULL, alice),), control=0x8004 | 0x1000)
    area.alice.set_security_descriptor(SHARE, area.path(rel), build_security_descriptor(sd), info=DACL_AND_OWNER)


@pytest.fixture(scope="module")
def area(testenv):
    """Home/ holds shared.txt (alice and bob may read), private.txt (owner-only ACL) and
    changing.txt (readable in the snapshot, owner-only live), in one snapshot and live."""
    area = ScratchArea(testenv, prefix="unreadable").create()
    try:
        area.mkdir("Home")
        area.set_acl("Home", {"alice": FULL, "bob": READ})
        for name in ("shared.txt", "private.txt", "changing.txt"):
            area.write(f"Home\\{name}", f"{name}\n".encode(), age=timedelta(days=2))
        owner_only(area, "Home\\private.txt")
        area.snapshot("-1 hour")
        owner_only(area, "Home\\changing.txt")
        yield area
    finally:
        area.remove()


@pytest.fixture
def person(sign_in, area):
    def as_(name: str):
        client = sign_in(name)
        give_root(name, area)
        return client

    return as_


def entries(client, area, at: str):
    return client.get("/api/v1/roots/scratch/entries", {"path": "Home", "at": at})


@pytest.mark.parametrize("backup_intent", [True, False], ids=["backup-intent", "no-backup-intent"])
@pytest.mark.parametrize("when", ["live", "snapshot"])
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_a_private_file_is_hidden_and_counted_never_its_folder(settings, person, area, who, when, backup_intent):
    settings.SMB_BACKUP_INTENT = backup_intent
    client = person(who)
    response = entries(client, area, "" if when == "live" else area.snapshots[0])
    assert response.status_code == 200, response.content
    body = response.json()
    names = {e["name"] for e in body["entries"]}
    assert "private.txt" not in names and "shared.txt" in names
    unreadable = 1 if when == "snapshot" else 2  # changing.txt is owner-only live
    assert body["hidden"] == {"count": unreadable, "reason": REASON}


def test_the_folder_page_lists_the_rest_and_says_how_many_are_hidden_and_why(person, area):
    client = person("bob")
    page = client.get("/roots/scratch/", {"path": "Home", "at": area.snapshots[0]})
    assert page.status_code == 200
    html = page.content.decode()
    assert "shared.txt" in html and "private.txt" not in html
    assert "1 entry is hidden: the portal cannot read their permissions" in html


def test_a_folder_without_unreadable_entries_says_nothing_is_hidden(person, area):
    body = person("alice").get("/api/v1/roots/scratch/entries", {"path": ""}).json()
    assert body["hidden"] == {"count": 0, "reason": ""}


def test_the_timeline_hides_the_versions_whose_permissions_cannot_be_read(person, area):
    client = person("alice")
    body = client.get("/api/v1/roots/scratch/versions", {"path": "Home/changing.txt"}).json()
    ats = [v["at"] for v in body["versions"]]
    assert area.snapshots[0] in ats and "live" not in ats  # the live copy is owner-only
    # the live copy, and its copies in any later snapshot of the share (other tests take some)
    assert body["hidden"]["count"] >= 1 and body["hidden"]["reason"] == REASON
    page = client.get("/roots/scratch/file", {"path": "Home/changing.txt"})
    assert page.status_code == 200
    assert re.search(r"\d+ versions? (is|are) hidden: the portal cannot read their permissions", page.content.decode())


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_a_file_whose_permissions_cannot_be_read_anywhere_is_not_found_not_a_server_error(person, area, who):
    client = person(who)
    assert client.get("/api/v1/roots/scratch/versions", {"path": "Home/private.txt"}).status_code == 404
    for at in ("", area.snapshots[0]):
        assert client.get("/api/v1/roots/scratch/entries", {"path": "Home/private.txt", "at": at}).status_code == 404
        assert client.get("/api/v1/roots/scratch/content", {"path": "Home/private.txt", "at": at}).status_code == 404


def test_search_leaves_the_private_file_out_and_counts_it(settings, person, area):
    settings.CATALOG_ACL_CHECK = "every-snapshot"
    source = sources.register(Unc(SERVER, SHARE, area.name))
    outcome = build.build_source(source.id)
    assert not outcome.error, outcome.error
    client = person("alice")  # bob may not list the area's top folder: none of it is his to search
    body = client.get("/api/v1/search", {"q": "private", "root": "scratch"}).json()
    assert body["results"] == [] and body["hidden"] == {"count": 1, "reason": REASON}
    body = client.get("/api/v1/search", {"q": "*.txt", "root": "scratch"}).json()
    assert {r["name"] for r in body["results"]} == {"shared.txt", "changing.txt"}
    assert body["hidden"]["count"] == 1
    page = client.get("/search/", {"q": "private", "root": "scratch"})
    assert page.status_code == 200 and "1 match is hidden" in page.content.decode()


def test_the_listing_at_a_catalogued_snapshot_still_hides_and_counts(settings, person, area):
    source = sources.register(Unc(SERVER, SHARE, area.name))
    assert not build.build_source(source.id).error
    body = entries(person("alice"), area, area.snapshots[0]).json()
    assert {e["name"] for e in body["entries"]} == {"shared.txt", "changing.txt"}
    assert body["hidden"]["count"] == 1


def test_restoring_the_folder_plans_the_rest_and_counts_the_private_file_hidden(person, area):
    client = person("alice")
    response = client.post("/api/v1/restores", {"items": [{"root": "scratch", "path": "Home", "at": area.snapshots[0]}],
                                                "dry_run": True}, content_type="application/json")
    assert response.status_code in (200, 201), response.content
    plan = response.json()
    planned = {i["source"]["path"] for i in plan["items"]}
    assert {"Home", "Home/shared.txt", "Home/changing.txt"} == planned
    assert plan["hidden"] == 1 and plan["would_start"]


def test_reads_ask_for_backup_intent_exactly_when_configured(settings):
    for on in (True, False):
        settings.SMB_BACKUP_INTENT = on
        client = smb.client_for(SERVER)
        sd_open = packed.CREATE_REQUEST.unpack_from(client._sd_compound("x", None)[0].body)  # packed
        listing_open = packed.CREATE_REQUEST.unpack_from(
            smb_client._list_compound("x", None, 1024, client.read_options(wire.DIRECTORY))[0].body)
        for options in (sd_open[10], listing_open[10]):  # CreateOptions
            assert bool(options & wire.BACKUP_INTENT) is on
        assert client.read_options(wire.DIRECTORY) & wire.DIRECTORY
