"""SMB_AUTH=kerberos-delegation end to end (issue 19): pages, API, helpdesk and restore jobs, with the
real test domain deciding. The session that reads and writes is the person's own (S4U2Self +
S4U2Proxy from the service account's keytab), so the file server itself decides every open.

Oracles: the file server's own list of sessions (``smbstatus``: whose uid each session on our
connection is), the pool's record of which credentials each share was used with, and the server's
refusal of a file whose ACL lets the service account read it but not the person, with the portal's own
access check switched off in the test (``restore.versions.browse.may_read`` patched to allow all).
"""

from __future__ import annotations

import json

import pytest

from restore import smb
from restore.accounts.identity import look_up
from restore.catalog import search
from restore.models import AuditEvent, JobState, Phase, RestoreJob
from restore.restores import runner as copying
from restore.smb import pool as pool_module
from restore.versions import browse
from restore.versions.roots import Root
from tests.support.people import session_uids, uid_of
from tests.support.scratch import FULL, READ, SHARE, ScratchArea, give_root, sid_of

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

NOTES = b"alice's notes, as they were\n" * 40
ATTRIBUTES_ONLY = 0x120080  # SYNCHRONIZE | READ_CONTROL | FILE_READ_ATTRIBUTES: seen, its bytes not read


@pytest.fixture(scope="module")
def area(testenv):
    """notes.txt (alice's) deleted since a snapshot; secret.txt: the service account may read it, alice may
    only see it; bob-only.txt and helpdesk-only.txt for the helpdesk test; admin1 may read the folder."""
    area = ScratchArea(testenv, prefix="kcd").create()
    try:
        for name in ("helpdesk1", "admin1"):
            area.sids[name] = sid_of(testenv, name)
        area.set_acl("", {"alice": FULL, "bob": READ, "helpdesk1": READ, "admin1": READ})
        area.write("notes.txt", NOTES)
        area.write("secret.txt", b"for the service account's eyes only\n")
        area.set_acl("secret.txt", {"alice": ATTRIBUTES_ONLY})
        area.write("bob-only.txt", b"bob's\n")
        area.set_acl("bob-only.txt", {"bob": READ})
        area.write("helpdesk-only.txt", b"helpdesk1's\n")
        area.set_acl("helpdesk-only.txt", {"helpdesk1": READ, "bob": ATTRIBUTES_ONLY})
        area.write("bobs-own.txt", b"bob's, and only bob's\n")
        area.set_acl("bobs-own.txt", {"bob": READ}, owner="bob")  # alice may not even read its permissions
        area.snapshot("-1 hour")
        area.delete("notes.txt")
        yield area
    finally:
        area.remove()


@pytest.fixture
def sessions_used(monkeypatch):
    """(principal, delegated) of every tree the pool hands out for the scratch share, as the test goes."""
    used = []
    real_tree = pool_module.Pool.tree

    def tree(self, server, share, credentials, options):
        if share.lower() == SHARE:
            used.append((credentials.principal.lower(), credentials.delegated))
        return real_tree(self, server, share, credentials, options)

    monkeypatch.setattr(pool_module.Pool, "tree", tree)
    return used


@pytest.fixture
def portal_check_off(monkeypatch):
    """The portal's own access check allows every descriptor it is given (a descriptor the server would not
    hand over still fails closed): what is refused now, the file server refused."""
    monkeypatch.setattr(browse, "may_read", lambda sd, token, is_dir: not isinstance(sd, smb.Unreadable))


def start_restore(client, path: str, at: str):
    body = {"items": [{"root": "scratch", "path": path, "at": at}]}
    return client.post("/api/v1/restores", json.dumps(body), content_type="application/json")


def content(client, path: str, at: str = ""):
    query = {"path": path, **({"at": at} if at else {})}
    return client.get("/api/v1/roots/scratch/content", query)


# --- alice's restore -------------------------------------------------------------------------------


def test_alices_restore_is_performed_in_a_session_the_server_sees_as_alice(delegation, alice_in_area, area,
                                                                           testenv, sessions_used):
    response = start_restore(alice_in_area, "notes.txt", area.snapshots[0])
    assert response.status_code == 201, response.content
    sessions_used.clear()  # planning read as alice too; the list of snapshot times is the service account's
    assert copying.run_job(response.json()["id"]) == JobState.DONE
    job = RestoreJob.objects.get(pk=response.json()["id"])
    item = job.items.get()
    assert item.phase == Phase.DONE and area.disk(item.target_path).read_bytes() == NOTES
    alice = f"alice@{testenv.realm}".lower()
    assert sessions_used and set(sessions_used) == {(alice, True)}  # the job's reads and writes: all alice's
    assert uid_of(testenv, "alice") in session_uids(testenv)  # and the server agrees whose session it is
    area.delete(item.target_path)


def test_the_server_refuses_alice_a_file_only_the_service_account_may_read(delegation, alice_in_area, area,
                                                                           portal_check_off):
    assert area.svc.sha256(SHARE, area.path("secret.txt"))  # the service account could read it
    refused = content(alice_in_area, "secret.txt", area.snapshots[0])
    assert refused.status_code == 403, refused.content
    assert refused.json()["detail"].startswith("The file server refused")
    page = alice_in_area.get("/roots/scratch/file", {"path": "secret.txt", "diff": area.snapshots[0]})
    assert page.status_code == 403 and b"The file server refused" in page.content  # the diff reads the bytes

    response = start_restore(alice_in_area, "secret.txt", area.snapshots[0])
    assert response.status_code == 201, response.content  # the portal's check (switched off) let it through
    assert copying.run_job(response.json()["id"]) == JobState.PARTIAL
    item = RestoreJob.objects.get(pk=response.json()["id"]).items.get()
    assert item.phase == Phase.FAILED and item.note.startswith("the file server refused")
    assert not [p for p in area.disk().rglob("*") if p.name.startswith("~vdiprotect-") or "(restored" in p.name]
    audited = AuditEvent.objects.get(action="restore_item", details__job=str(item.job_id))
    assert audited.result == "failed" and "the file server refused" in audited.details["note"]


# --- search's live check -----------------------------------------------------------------------------


def test_searchs_live_check_asks_the_file_server_as_the_person(delegation, area, testenv, sessions_used,
                                                               portal_check_off):
    alice = look_up("alice")
    hit = search.Hit(Root(**area.root()), "bobs-own.txt", "bobs-own.txt", False, [])
    search._check_live(alice.token, [hit])
    assert hit.exists_live is False  # her session may not read it, though the portal's check (off) would allow
    assert {who for who, _ in sessions_used} == {f"alice@{testenv.realm}".lower()}
    delegation.SMB_AUTH = "service-account"  # the same question as the service account: it may read it
    search._check_live(alice.token, [hit])
    assert hit.exists_live is True


# --- the helpdesk acting for bob ---------------------------------------------------------------------


def test_helpdesk_acting_for_bob_reads_as_bob(delegation, settings, bob, helpdesk1, area, testenv, sessions_used,
                                              portal_check_off):
    settings.HELPDESK_CONTENT_BLIND = False
    started = helpdesk1.post("/api/v1/helpdesk/act-for", json.dumps(
        {"username": "bob", "ticket": "INC0019001", "reason": "bob asked for his file"}),
        content_type="application/json")
    assert started.status_code == 201, started.content
    give_root("bob", area)  # after acting began: it reads bob's roots afresh from AD
    sessions_used.clear()
    readable = content(helpdesk1, "bob-only.txt")
    assert readable.status_code == 200 and b"".join(readable.streaming_content) == b"bob's\n"
    refused = content(helpdesk1, "helpdesk-only.txt")  # helpdesk1 itself could read it: its session is not used
    assert refused.status_code == 403 and refused.json()["detail"].startswith("The file server refused")
    assert {who for who, _ in sessions_used} == {f"bob@{testenv.realm}".lower()}
    uids = session_uids(testenv)
    assert uid_of(testenv, "bob") in uids and uid_of(testenv, "helpdesk1") not in uids


# --- an account the domain will not delegate -------------------------------------------------------


def test_a_sensitive_account_is_told_so_on_the_page_and_in_the_api(delegation, signed_in, area):
    admin1 = signed_in("admin1")
    give_root("admin1", area)
    api = admin1.get("/api/v1/roots/scratch/entries", {"path": ""})
    assert api.status_code == 403, api.content
    assert "sensitive and cannot be delegated" in api.json()["detail"]
    page = admin1.get("/roots/scratch/")
    assert page.status_code == 403 and b"sensitive and cannot be delegated" in page.content
    dialog = admin1.get("/restores/new", {"root": "scratch", "path": "notes.txt", "at": area.snapshots[0]})
    assert dialog.status_code == 403 and b"sensitive and cannot be delegated" in dialog.content  # the middleware
    started = admin1.post("/api/v1/restores", json.dumps({"items": [
        {"root": "scratch", "path": "notes.txt", "at": area.snapshots[0]}]}), content_type="application/json")
    assert started.status_code == 403 and "sensitive and cannot be delegated" in started.json()["detail"]
    assert not AuditEvent.objects.filter(action="delegation_fallback").exists()


def test_the_service_account_fallback_reads_for_a_sensitive_account_and_is_audited(delegation, signed_in, area,
                                                                                 sessions_used):
    delegation.SMB_DELEGATION_FALLBACK = "service-account"
    admin1 = signed_in("admin1")
    give_root("admin1", area)
    listed = admin1.get("/api/v1/roots/scratch/entries", {"path": ""})
    assert listed.status_code == 200, listed.content
    assert "notes.txt" not in {e["name"] for e in listed.json()["entries"]}  # deleted live
    assert sessions_used and not any(delegated for _, delegated in sessions_used)  # the service account read
    (fallback,) = AuditEvent.objects.filter(action="delegation_fallback")
    assert fallback.actor_username == "admin1" and fallback.details["read_as"] == "service account"
    assert fallback.details["decided_by"] == "the portal's access check" and "admin1" in fallback.details["reason"]
