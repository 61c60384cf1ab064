"""Sign-in against the real Samba AD: name forms, roles through nesting, the security token,
refusals that change nothing, lockout, logout, CSRF, the local emergency admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from restore.models import AuditEvent, Identity
from restore.nt.access import network_logon_sids
from tests.conftest import basic_auth
from tests.support import people

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

EXPECTED_ROLES = {
    "alice": ["user"],
    "bob": ["user"],
    "carol": ["user"],
    "helpdesk1": ["user", "helpdesk"],  # only through Restore Helpdesk -> Portal Helpdesk
    "auditor1": ["user", "auditor"],
}
INJECTIONS = ["*", "alice)(", "*)(objectClass=*", "alice\x00", "al*ce", "a" * 300, "alice)(|(sAMAccountName=*",
              "\\2a", "CORP\\*", "*@corp.example.test"]


def name_forms(testenv, username):
    return [username, f"{testenv.domain}\\{username}", f"{username}@{testenv.realm.lower()}"]


def ldap_search(testenv, bind_user, base, scope, attrs, flt="(objectClass=*)"):
    """The DC's own answer, through the OpenLDAP CLI (independent of our directory adapter)."""
    return people.ldap_tool(testenv, "ldapsearch", bind_user, testenv.password, "-LLL", "-o", "ldif-wrap=no",
                            "-b", base, "-s", scope, flt, *attrs)


def dc_token_groups(testenv, username) -> set[str]:
    dn = f"CN={username},CN=Users,{testenv['TESTENV_BASE_DN']}"
    out = ldap_search(testenv, username, dn, "base", ["tokenGroups"])
    import base64

    from restore.directory.ldap import sid_to_str

    return {sid_to_str(base64.b64decode(v)) for v in re.findall(r"^tokenGroups:: (\S+)$", out, re.M)}


def ad_modify(testenv, ldif: str) -> None:
    people.ldap_tool(testenv, "ldapmodify", "Administrator", testenv["TESTENV_ADMIN_PASSWORD"], stdin=ldif)


def sign_in_events(result=None):
    events = AuditEvent.objects.filter(action="sign_in")
    return events.filter(result=result) if result else events


@pytest.mark.parametrize("username", sorted(EXPECTED_ROLES))
def test_each_character_signs_in_with_every_name_form_and_gets_exactly_its_roles(testenv, username):
    for typed in name_forms(testenv, username):
        client = Client()
        response = client.post("/signin/", {"username": typed, "password": testenv.password})
        assert response.status_code == 302, (typed, response.content[:300])
        me = client.get("/api/v1/me").json()
        assert me["username"] == username
        assert sorted(me["roles"]) == sorted(EXPECTED_ROLES[username]), typed
    assert get_user_model().objects.filter(username=username).count() == 1  # one account for three spellings


@pytest.mark.parametrize("username", ["alice", "helpdesk1"])
def test_stored_token_equals_token_groups_reported_by_the_dc(testenv, sign_in, username):
    sign_in(username)
    ident = Identity.objects.get(username=username)
    user_sid_line = ldap_search(testenv, username, f"CN={username},CN=Users,{testenv['TESTENV_BASE_DN']}", "base",
                                ["objectSid"])
    import base64

    from restore.directory.ldap import sid_to_str

    assert ident.sid == sid_to_str(base64.b64decode(re.search(r"^objectSid:: (\S+)$", user_sid_line, re.M)[1]))
    stored = set(ident.token_sids)
    assert stored - set(network_logon_sids()) == dc_token_groups(testenv, username)
    assert set(network_logon_sids()) <= stored
    assert {"S-1-1-0", "S-1-5-11", "S-1-5-2"} <= stored  # Everyone, Authenticated Users, NETWORK


def test_me_api_answers_the_documented_shape(testenv, sign_in):
    client = sign_in("alice")
    me = client.get("/api/v1/me").json()
    assert set(me) == {"username", "display_name", "sid", "roles", "roots"}
    assert me["display_name"] == "Alice Archer"
    assert me["sid"].startswith("S-1-5-21-")
    kinds = {r["kind"]: r for r in me["roots"]}
    assert kinds["profile"]["unc"].lower().endswith("\\profiles\\alice.v6")
    assert kinds["data"]["unc"].lower().endswith("\\data\\alice")
    assert all(set(r) == {"id", "kind", "unc"} for r in me["roots"])


def test_api_accepts_http_basic_with_ad_credentials(testenv):
    response = Client().get("/api/v1/me", **basic_auth("CORP\\bob", testenv.password))
    assert response.status_code == 200
    assert response.json()["username"] == "bob"


def test_api_basic_with_wrong_password_is_401_and_audited(testenv):
    response = Client().get("/api/v1/me", **basic_auth("bob", "not-his-password"))
    assert response.status_code == 401
    assert sign_in_events("failed").filter(actor_username="bob", details__reason="wrong password").exists()


@override_settings(API_BASIC_AUTH=False)
def test_basic_auth_can_be_turned_off(testenv):
    response = Client().get("/api/v1/me", **basic_auth("bob", testenv.password))
    assert response.status_code in (401, 403)
    assert not get_user_model().objects.filter(username="bob").exists()


def test_anonymous_api_call_is_refused(testenv):
    assert Client().get("/api/v1/me").status_code in (401, 403)


def test_wrong_password_is_refused_clearly_changes_nothing_and_is_audited(testenv):
    response = Client().post("/signin/", {"username": "alice", "password": "wrong-password"})
    assert response.status_code == 200
    assert b"Wrong user name or password" in response.content
    assert not get_user_model().objects.exists()
    assert not Identity.objects.exists()
    event = sign_in_events("failed").get()
    assert event.actor_username == "alice" and event.details["reason"] == "wrong password"
    assert event.source_ip == "127.0.0.1"


def test_disabled_account_is_refused_and_audited(testenv):
    response = Client().post("/signin/", {"username": "dave", "password": testenv.password})
    assert response.status_code == 200
    assert b"cannot sign in" in response.content
    assert not get_user_model().objects.exists()
    assert sign_in_events("failed").get().details["reason"] == "account disabled"


@pytest.mark.parametrize("typed", INJECTIONS)
def test_ldap_filter_injection_is_refused_before_any_search(testenv, typed):
    response = Client().post("/signin/", {"username": typed, "password": testenv.password})
    assert response.status_code == 200
    assert b"not a valid user name" in response.content or b"too long" in response.content \
        or b"Sign in with an account" in response.content
    assert not get_user_model().objects.exists()
    assert sign_in_events("invalid").get().details["reason"] == "invalid user name"


def test_a_name_from_another_domain_is_refused(testenv):
    response = Client().post("/signin/", {"username": "OTHER\\alice", "password": testenv.password})
    assert b"Sign in with an account of the CORP domain" in response.content
    assert not get_user_model().objects.exists()


def test_password_is_never_stored(testenv, sign_in):
    sign_in("carol")
    user = get_user_model().objects.get(username="carol")
    assert not user.has_usable_password()
    assert testenv.password not in str(list(AuditEvent.objects.values()))
    assert testenv.password not in str(list(Identity.objects.values()))


def test_successful_sign_in_is_audited_with_roles(testenv, sign_in):
    sign_in("helpdesk1")
    event = sign_in_events("ok").get()
    assert event.actor_username == "helpdesk1"
    assert event.actor_sid == Identity.objects.get(username="helpdesk1").sid
    assert sorted(event.details["roles"]) == ["helpdesk", "user"]


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failures_lock_the_account_out_even_with_the_right_password(testenv):
    client = Client()
    for _ in range(3):
        client.post("/signin/", {"username": "carol", "password": "wrong"})
    response = client.post("/signin/", {"username": "carol", "password": testenv.password})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert sign_in_events("locked").filter(actor_username="carol").exists()
    assert not get_user_model().objects.filter(username="carol").exists()


@override_settings(AXES_FAILURE_LIMIT=3)
def test_failures_across_names_lock_out_the_address(testenv):
    client = Client(REMOTE_ADDR="127.0.0.9")
    for name in ("nobody1", "nobody2", "nobody3"):
        client.post("/signin/", {"username": name, "password": "x"})
    response = client.post("/signin/", {"username": "bob", "password": testenv.password})
    assert response.status_code == 429
    # another address is not affected
    assert Client(REMOTE_ADDR="127.0.0.10").post("/signin/", {"username": "bob", "password": testenv.password}).status_code == 302


def test_sign_out_ends_the_session(testenv, sign_in):
    client = sign_in("alice")
    assert client.get("/api/v1/me").status_code == 200
    assert client.post("/signout/").status_code == 302
    assert client.get("/api/v1/me").status_code in (401, 403)
    assert AuditEvent.objects.filter(action="sign_out", actor_username="alice").exists()


def test_sign_in_form_requires_csrf(testenv):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/signin/", {"username": "alice", "password": testenv.password})
    assert response.status_code == 403


def test_session_cookie_is_secure_and_http_only_in_production_settings(testenv, settings):
    assert settings.SESSION_COOKIE_SECURE and settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_SECURE


def test_role_change_in_ad_applies_within_the_refresh_interval(testenv, sign_in, settings):
    client = sign_in("auditor1")
    group = f"CN=Restore Auditors,CN=Users,{testenv['TESTENV_BASE_DN']}"
    member = f"CN=auditor1,CN=Users,{testenv['TESTENV_BASE_DN']}"
    ad_modify(testenv, f"dn: {group}\nchangetype: modify\ndelete: member\nmember: {member}\n")
    try:
        assert "auditor" in client.get("/api/v1/me").json()["roles"]  # not yet: interval not reached
        settings.IDENTITY_REFRESH_SECONDS = 0
        assert "auditor" not in client.get("/api/v1/me").json()["roles"]
    finally:
        ad_modify(testenv, f"dn: {group}\nchangetype: modify\nadd: member\nmember: {member}\n")


def test_emergency_admin_signs_in_to_the_admin_site_only(testenv):
    get_user_model().objects.create_superuser("localadmin", "admin@example.test", "Emergency-Pass-123")
    assert Client().post("/signin/", {"username": "localadmin", "password": "Emergency-Pass-123"}).status_code == 200
    admin = Client()
    response = admin.post("/admin/login/?next=/admin/", {"username": "localadmin", "password": "Emergency-Pass-123"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert admin.get("/admin/").status_code == 200
    assert admin.get("/api/v1/me").status_code == 403  # no portal role: not an AD person


@pytest.mark.parametrize("typed", ["alice\x00", "*)(objectClass=*", "a" * 300])
def test_api_basic_refuses_injection_names_with_401_and_audits_them(testenv, typed):
    response = Client().get("/api/v1/me", **basic_auth(typed, testenv.password))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic")
    event = sign_in_events("invalid").get()
    assert event.details["reason"] == "invalid user name" and "\x00" not in event.actor_username
    assert not get_user_model().objects.exists()
