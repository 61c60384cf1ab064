"""Helpdesk "act for" against the real test domain: helpdesk1 acting for alice sees exactly what
alice sees (call by call), never with helpdesk1's own rights; who may be acted for (protected
accounts, scope, disabled, auditors); ticket and reason; ending; content-blind; the API header;
the user's notification."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from restore.helpdesk import people as helpdesk
from restore.models import ActingFor, AuditEvent
from restore.nt.access import Token
from tests.conftest import basic_auth
from tests.support.acting import START, act_for, acting_helpdesk1

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

DATA_FOLDERS = ["", "Documents", "Documents/Finance", "Documents/Archive", "Documents/GIS", "Pictures", "Desktop"]
PROFILE_FOLDERS = ["", "AppData/Roaming/Microsoft/Signatures"]
DATA_FILES = ["Documents/notes.txt", "Documents/Archive/handover.docx", "Documents/Finance/salaries.xlsx",
              "Documents/Finance/forecast.xlsx", "Documents/report.docx", "Documents/final.txt"]
PROFILE_FILES = ["AppData/Roaming/Microsoft/Signatures/Work.htm"]


def answer(client, url, **params):
    response = client.get(url, params)
    body = response.json() if response["Content-Type"].startswith("application/json") else response.content
    return response.status_code, body


def browse_calls(client) -> list[tuple[str, dict]]:
    """Every browse and timeline call worth comparing: both roots, every folder live and at each snapshot."""
    calls = [("/api/v1/roots", {})]
    for root, folders, files in (("data", DATA_FOLDERS, DATA_FILES), ("profile", PROFILE_FOLDERS, PROFILE_FILES)):
        calls.append((f"/api/v1/roots/{root}/snapshots", {}))
        snapshots = [s["id"] for s in client.get(f"/api/v1/roots/{root}/snapshots").json()]
        assert len(snapshots) >= 3
        for folder in folders:
            calls.append((f"/api/v1/roots/{root}/entries", {"path": folder}))
            calls += [(f"/api/v1/roots/{root}/entries", {"path": folder, "at": at}) for at in snapshots]
        calls += [(f"/api/v1/roots/{root}/versions", {"path": f}) for f in files]
    return calls


def test_helpdesk_acting_for_alice_gets_exactly_alices_answers_call_by_call(alice, helpdesk1):
    calls = browse_calls(alice)
    acting_helpdesk1(helpdesk1)
    compared = 0
    for url, params in calls:
        assert answer(helpdesk1, url, **params) == answer(alice, url, **params), (url, params)
        compared += 1
    assert compared > 40
    notes = helpdesk1.get("/api/v1/roots/data/entries", {"path": "Documents"}).json()["entries"]
    assert "notes.txt" in {e["name"] for e in notes}


def test_acting_for_never_uses_the_members_own_rights_or_folders(alice, helpdesk1):
    own_roots = helpdesk1.get("/api/v1/roots").json()
    assert any("helpdesk1" in r["unc"] for r in own_roots)
    acting_helpdesk1(helpdesk1)
    roots = helpdesk1.get("/api/v1/roots").json()
    assert roots == alice.get("/api/v1/roots").json() and not any("helpdesk1" in r["unc"] for r in roots)
    top = {e["name"] for e in helpdesk1.get("/api/v1/roots/data/entries", {"path": "Documents"}).json()["entries"]}
    assert "helpdesk1-notes.txt" not in top
    # handover.docx: alice may read it only in the older snapshots, so may the helpdesk acting for her
    rows = helpdesk1.get("/api/v1/roots/data/versions", {"path": "Documents/Archive/handover.docx"}).json()["versions"]
    assert rows and not any(r["live"] for r in rows)
    live = helpdesk1.get("/api/v1/roots/data/content", {"path": "Documents/Archive/handover.docx"})
    assert live.status_code == 404


def test_pages_act_for_alice_with_a_banner_and_stop_button(alice, helpdesk1, testenv):
    page = helpdesk1.post("/helpdesk/act-for", START)
    assert page.status_code == 302
    html = helpdesk1.get("/roots/data/", {"path": "Documents"}).content.decode()
    assert "Acting for Alice Archer (alice)" in html and "Stop acting" in html and "INC0012345" in html
    assert "notes.txt" in html and "helpdesk1-notes.txt" not in html
    timeline = helpdesk1.get("/roots/data/file", {"path": "Documents/notes.txt"})
    assert timeline.status_code == 200 and "Acting for" in timeline.content.decode()
    assert "Acting for" not in alice.get("/roots/data/").content.decode()  # alice's own session has no banner
    assert helpdesk1.post("/helpdesk/stop").status_code == 302
    html = helpdesk1.get("/roots/data/", {"path": "Documents"}).content.decode()
    assert "Acting for" not in html and "helpdesk1-notes.txt" in html


def test_every_action_while_acting_is_audited_with_both_names_and_the_ticket(helpdesk1, testenv):
    acting_helpdesk1(helpdesk1)
    snapshots = helpdesk1.get("/api/v1/roots/data/snapshots").json()
    helpdesk1.get("/api/v1/roots/data/entries", {"path": "Documents", "at": snapshots[-1]["id"]})
    helpdesk1.get("/api/v1/roots/data/versions", {"path": "Documents/notes.txt"})
    b"".join(helpdesk1.get("/api/v1/roots/data/content", {"path": "Documents/notes.txt"}).streaming_content)
    assert helpdesk1.delete("/api/v1/helpdesk/act-for").status_code == 204
    events = list(AuditEvent.objects.filter(actor_username="helpdesk1").exclude(action="sign_in").order_by("id"))
    assert [e.action for e in events] == ["act_for_start", "list", "timeline", "download", "act_for_end"]
    for event in events:
        assert event.acting_for_username == "alice" and event.role == "helpdesk"
        assert event.details["ticket"] == "INC0012345"
        assert event.acting_for_sid.startswith("S-1-5-21-") and event.actor_sid != event.acting_for_sid
    assert events[0].details["reason"] == START["reason"]
    assert events[-1].details["why"] == "stopped"


@pytest.mark.parametrize("fields, message", [
    ({"ticket": ""}, "ticket reference is required"),
    ({"ticket": "   "}, "ticket reference is required"),
    ({"ticket": "INC 1; DROP"}, "at most 64"),
    ({"ticket": "x" * 65}, "at most 64"),
    ({"reason": ""}, "reason is required"),
    ({"reason": "bad\x00reason"}, "plain text"),
    ({"username": "*)(objectClass=*"}, "not a valid user name"),
])
def test_cannot_start_without_a_valid_ticket_and_reason_and_nothing_changes(helpdesk1, fields, message):
    before = AuditEvent.objects.count()
    response = act_for(helpdesk1, **fields)
    assert response.status_code == 400 and message in response.json()["detail"]
    assert not ActingFor.objects.exists() and AuditEvent.objects.count() == before
    assert helpdesk1.get("/api/v1/helpdesk/act-for").json() == {"acting_for": None}


def test_cannot_start_without_a_ticket_on_the_page_either(helpdesk1):
    response = helpdesk1.post("/helpdesk/act-for", {**START, "ticket": ""})
    assert response.status_code == 400 and "ticket reference is required" in response.content.decode()
    assert not ActingFor.objects.exists()


@pytest.mark.parametrize("username, status, why", [
    ("admin1", 403, "Domain Admins"),  # protected, found by well-known RID in the token
    ("svc-vdiprotect", 403, "protected"),  # the portal's own service account
    ("dave", 403, "disabled"),
    ("auditor1", 403, "does not use this portal"),  # auditors do not use files, so nobody does for them
    ("helpdesk1", 403, "yourself"),
    ("nobody-here", 404, "no user"),
])
def test_cannot_act_for_protected_disabled_unknown_or_oneself_and_the_refusal_is_audited(helpdesk1, username,
                                                                                        status, why):
    response = act_for(helpdesk1, username=username)
    assert response.status_code == status and why in response.json()["detail"]
    assert not ActingFor.objects.exists()
    refused = AuditEvent.objects.get(action="act_for_start", actor_username="helpdesk1")
    assert refused.result == "denied" and refused.details["target"] == username


@pytest.mark.parametrize("who", ["bob", "auditor1"])
def test_only_helpdesk_members_may_act_for_or_search(signed_in, who):
    client = signed_in(who)
    assert act_for(client).status_code == 403
    assert client.get("/api/v1/helpdesk/users", {"q": "ali"}).status_code == 403
    assert client.get("/helpdesk/").status_code == 403
    assert not ActingFor.objects.exists()
    assert AuditEvent.objects.filter(action="access_denied", actor_username=who).count() == 3


def test_search_finds_users_and_says_whom_the_member_may_act_for(helpdesk1):
    found = {u["username"]: u for u in helpdesk1.get("/api/v1/helpdesk/users", {"q": "al"}).json()}
    assert found["alice"]["may_act_for"] is True and found["alice"]["display_name"] == "Alice Archer"
    admin = helpdesk1.get("/api/v1/helpdesk/users", {"q": "admin1"}).json()
    assert [u["username"] for u in admin] == ["admin1"]
    assert admin[0]["may_act_for"] is False and "Domain Admins" in admin[0]["refusal"]
    by_mail = helpdesk1.get("/api/v1/helpdesk/users", {"q": "bob@corp"}).json()
    assert [u["username"] for u in by_mail] == ["bob"]
    for bad in ("", "a", "x" * 65, "al\x00"):
        assert helpdesk1.get("/api/v1/helpdesk/users", {"q": bad}).status_code == 400
    page = helpdesk1.get("/helpdesk/", {"q": "ali"}).content.decode()
    assert "Alice Archer" in page and 'name="ticket"' in page


def test_search_with_filter_syntax_finds_nothing_more_than_the_text(helpdesk1):
    for text in ("*", "*)(objectClass=*", "a*)(|(sAMAccountName=*"):
        response = helpdesk1.get("/api/v1/helpdesk/users", {"q": text})
        assert response.status_code in (200, 400)
        if response.status_code == 200:
            assert response.json() == []


def test_acting_for_a_user_who_never_signed_in_reads_them_from_ad(helpdesk1, signed_in):
    acting_helpdesk1(helpdesk1, username="carol")
    roots = {r["kind"]: r["unc"] for r in helpdesk1.get("/api/v1/roots").json()}
    assert roots["data"].lower().endswith("\\data\\carol")
    carol = signed_in("carol")  # her own later sign-in finds the same account
    assert carol.get("/api/v1/roots").json() == helpdesk1.get("/api/v1/roots").json()


def test_scope_limits_whom_each_helpdesk_group_may_act_for(helpdesk1, settings, testenv):
    base = testenv["TESTENV_BASE_DN"]
    settings.HELPDESK_SCOPES = {f"CN=Restore Helpdesk,CN=Users,{base}": [f"CN=Finance,CN=Users,{base}"]}
    assert act_for(helpdesk1, username="alice").status_code == 201  # alice is in Finance
    response = act_for(helpdesk1, username="carol")
    assert response.status_code == 403 and "scope" in response.json()["detail"]
    settings.HELPDESK_SCOPES = {f"CN=Restore Helpdesk,CN=Users,{base}": [f"cn=users, {base.lower()}"]}  # a subtree
    assert act_for(helpdesk1, username="carol").status_code == 201
    settings.HELPDESK_SCOPES = {f"CN=Restore Helpdesk,CN=Users,{base}": [f"OU=Nobody Here,{base}"]}
    assert act_for(helpdesk1, username="carol").status_code == 403
    settings.HELPDESK_SCOPES = {f"CN=Some Other Desk,CN=Users,{base}": [f"CN=Users,{base}"]}  # not my group
    assert act_for(helpdesk1, username="alice").status_code == 403


def test_a_scope_never_reaches_protected_accounts(helpdesk1, settings, testenv):
    base = testenv["TESTENV_BASE_DN"]
    settings.HELPDESK_SCOPES = {f"CN=Restore Helpdesk,CN=Users,{base}": [f"CN=Users,{base}"]}
    assert act_for(helpdesk1, username="admin1").status_code == 403


def test_extra_protected_groups_are_refused(helpdesk1, settings, testenv):
    settings.HELPDESK_PROTECTED_GROUPS = [f"CN=Finance,CN=Users,{testenv['TESTENV_BASE_DN']}"]
    response = act_for(helpdesk1, username="bob")
    assert response.status_code == 403 and "Finance" in response.json()["detail"]


def test_stop_and_sign_out_end_acting_for_and_are_audited(helpdesk1, signed_in):
    acting_helpdesk1(helpdesk1)
    assert helpdesk1.post("/helpdesk/stop").status_code == 302
    assert not ActingFor.objects.filter(ended_at__isnull=True).exists()
    assert any("helpdesk1" in r["unc"] for r in helpdesk1.get("/api/v1/roots").json())
    acting_helpdesk1(helpdesk1)
    helpdesk1.post("/signout/")
    ends = list(AuditEvent.objects.filter(action="act_for_end").values_list("details__why", flat=True))
    assert ends == ["stopped", "signed out"]
    assert not ActingFor.objects.filter(ended_at__isnull=True).exists()


def test_starting_another_ends_the_first(helpdesk1):
    acting_helpdesk1(helpdesk1, username="alice")
    acting_helpdesk1(helpdesk1, username="bob")
    assert list(ActingFor.objects.filter(ended_at__isnull=True).values_list("target_username", flat=True)) == ["bob"]
    assert AuditEvent.objects.get(action="act_for_end").acting_for_username == "alice"
    assert all("bob" in r["unc"] for r in helpdesk1.get("/api/v1/roots").json())


def test_expired_acting_for_refuses_once_then_the_member_is_themselves_again(helpdesk1, settings):
    acting_helpdesk1(helpdesk1)
    settings.HELPDESK_ACT_FOR_SECONDS = 0
    refused = helpdesk1.get("/api/v1/roots")
    assert refused.status_code == 403 and "expired" in refused.json()["detail"]
    assert AuditEvent.objects.filter(action="act_for_end", details__why="expired").count() == 1
    assert any("helpdesk1" in r["unc"] for r in helpdesk1.get("/api/v1/roots").json())


def test_target_is_reread_from_ad_like_a_signed_in_person(helpdesk1, alice, settings):
    acting_helpdesk1(helpdesk1)
    settings.IDENTITY_REFRESH_SECONDS = 0
    assert helpdesk1.get("/api/v1/roots").json() == alice.get("/api/v1/roots").json()
    assert ActingFor.objects.get().ended_at is None


def test_content_blind_mode_refuses_preview_and_download_but_not_browsing(helpdesk1, alice, settings):
    settings.HELPDESK_CONTENT_BLIND = True
    acting_helpdesk1(helpdesk1)
    for disposition in ("attachment", "inline"):
        response = helpdesk1.get("/api/v1/roots/data/content", {"path": "Documents/notes.txt",
                                                                "disposition": disposition})
        assert response.status_code == 403 and "Content-blind" in response.json()["detail"]
    assert helpdesk1.get("/api/v1/roots/data/entries", {"path": "Documents"}).status_code == 200
    assert helpdesk1.get("/api/v1/roots/data/versions", {"path": "Documents/notes.txt"}).status_code == 200
    assert alice.get("/api/v1/roots/data/content", {"path": "Documents/notes.txt"}).status_code == 200
    denied = AuditEvent.objects.filter(action="access_denied", actor_username="helpdesk1")
    assert denied.count() == 2 and all(e.acting_for_username == "alice" for e in denied)
    assert "content-blind" in helpdesk1.get("/roots/data/").content.decode()
    timeline = helpdesk1.get("/roots/data/file", {"path": "Documents/notes.txt", "preview": "live"}).content.decode()
    assert "notes.txt" in timeline and "Download" not in timeline and "Preview" not in timeline


def test_the_home_page_shows_the_folders_of_the_person_acted_for(helpdesk1, alice):
    acting_helpdesk1(helpdesk1, username="bob")
    page = helpdesk1.get("/").content.decode()
    assert "\\\\127.0.0.1\\data\\bob" in page and "helpdesk1" not in page.split("Folders of")[1]


def test_api_clients_without_a_session_act_for_with_the_x_act_for_header(testenv, alice):
    auth = basic_auth("helpdesk1", testenv.password)
    api = Client()
    started = api.post("/api/v1/helpdesk/act-for", json.dumps(START), content_type="application/json", **auth)
    assert started.status_code == 201 and started.json()["via"] == "header"
    header = {"HTTP_X_ACT_FOR": started.json()["id"]}
    entries = api.get("/api/v1/roots/data/entries", {"path": "Documents/Finance"}, **auth, **header)
    assert entries.json() == alice.get("/api/v1/roots/data/entries", {"path": "Documents/Finance"}).json()
    own = api.get("/api/v1/roots", **auth).json()  # without the header: the member's own folders
    assert any("helpdesk1" in r["unc"] for r in own)
    assert api.get("/api/v1/helpdesk/act-for", **auth, **header).json()["acting_for"]["username"] == "alice"
    assert api.delete("/api/v1/helpdesk/act-for", **auth, **header).status_code == 204
    after = api.get("/api/v1/roots", **auth, **header)
    assert after.status_code == 403 and "X-Act-For" in after.json()["detail"]


def test_another_person_cannot_use_a_members_acting_for_id(testenv, helpdesk1):
    acting = act_for(helpdesk1).json()
    bob = basic_auth("bob", testenv.password)
    for header in (acting["id"], "not-a-uuid"):
        response = Client().get("/api/v1/roots/data/entries", {"path": "Documents"}, HTTP_X_ACT_FOR=header, **bob)
        assert response.status_code == 403 and b"alice" not in response.content


# --- pure rules --------------------------------------------------------------------------------------

DOMAIN = "S-1-5-21-1111-2222-3333"


def token(*groups, user=f"{DOMAIN}-1105"):
    return Token(user_sid=user, group_sids=frozenset(groups))


@pytest.mark.parametrize("sids, expected", [
    ((f"{DOMAIN}-513",), []),
    ((f"{DOMAIN}-513", f"{DOMAIN}-512"), ["Domain Admins"]),
    (("S-1-5-21-9-9-9-519",), ["Enterprise Admins"]),  # the forest root's group, another domain SID
    (("S-1-5-32-551", "S-1-5-32-545"), ["Backup Operators"]),
    (("S-1-5-32-548",), ["Account Operators"]),
    ((f"{DOMAIN}-5120",), []),  # a RID that merely starts like one
])
def test_protected_memberships_by_well_known_rid(sids, expected):
    assert helpdesk.protected_memberships(token(*sids)) == expected


def test_the_built_in_administrator_account_is_protected():
    assert helpdesk.protected_memberships(token(user=f"{DOMAIN}-500")) == ["the built-in Administrator"]


def test_scope_allows_by_group_sid_or_dn_subtree():
    scope = helpdesk.Scope(everyone=False, group_sids=frozenset({f"{DOMAIN}-1200"}),
                           subtrees=(helpdesk.normalize_dn("OU=Staff, DC=corp,DC=example"),))
    assert scope.allows("CN=x,OU=Other,DC=corp,DC=example", token(f"{DOMAIN}-1200"))
    assert scope.allows("CN=x,OU=Team,OU=Staff,DC=corp,DC=example", token())
    assert not scope.allows("CN=x,OU=Other,DC=corp,DC=example", token())
    assert not scope.allows("CN=x,OU=NotStaff,DC=corp,DC=example", token())
    assert helpdesk.Scope(everyone=True).allows("CN=x", token())
