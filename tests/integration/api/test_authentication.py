"""HTTP Basic in a browser's world (restore/api/authentication.py), tried as an attacker's page would:
a cross-site form POST riding on cached Basic credentials is refused before they are even tried; a
browser is never sent a Basic challenge it would cache credentials from; scripts keep working; the
session keeps its CSRF check; a Basic sign-in is audited once per person per client per hour."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from restore.models import AuditEvent
from tests.conftest import basic_auth

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

ACT_FOR = {"username": "alice", "ticket": "INC0012345", "reason": "alice deleted her notes by mistake"}
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def helpdesk1_basic(testenv):
    return basic_auth("helpdesk1", testenv.password)


def act_for(headers: dict, *, form: bool = False, **extra):
    """POST /api/v1/helpdesk/act-for as a page elsewhere would (a form) or a script would (JSON)."""
    if form:
        return Client().post("/api/v1/helpdesk/act-for", ACT_FOR, **headers, **extra)
    return Client().post("/api/v1/helpdesk/act-for", json.dumps(ACT_FOR), content_type="application/json",
                         **headers, **extra)


# --- cross-site requests on HTTP Basic ------------------------------------------------------------


@pytest.mark.parametrize("browser_says", [
    {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "navigate", "HTTP_ORIGIN": "https://evil.example"},
    {"HTTP_SEC_FETCH_SITE": "same-site", "HTTP_ORIGIN": "https://wiki.corp.example"},  # a sibling site is not us
    {"HTTP_SEC_FETCH_SITE": "cross-site"},
    {"HTTP_ORIGIN": "https://evil.example"},  # an older browser: Origin only
    {"HTTP_ORIGIN": "null"},  # a sandboxed frame or a redirect chain
    {"HTTP_ORIGIN": "http://testserver.evil.example"},
], ids=["cross-site", "same-site", "sec-fetch-only", "origin-only", "origin-null", "look-alike-origin"])
def test_a_cross_site_form_post_riding_on_cached_basic_credentials_is_refused(helpdesk1_basic, browser_says):
    response = act_for({**helpdesk1_basic, **browser_says}, form=True, HTTP_USER_AGENT=FIREFOX)
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "another web site" in detail or "not the portal" in detail
    assert "HTTP Basic" in detail and "script" in detail  # what to do instead
    # Refused before the credentials were tried: nobody acted for alice, no sign-in of any kind.
    assert not AuditEvent.objects.filter(action__in=("act_for_start", "sign_in")).exists()


def test_a_cross_site_delete_on_basic_is_refused_too(testenv):
    response = Client().delete("/api/v1/helpdesk/act-for", **basic_auth("helpdesk1", testenv.password),
                               HTTP_SEC_FETCH_SITE="cross-site", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403 and "another web site" in response.json()["detail"]


@pytest.mark.parametrize("headers", [
    {},  # curl, PowerShell, python-requests: no Origin, no Sec-Fetch-*
    {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_ORIGIN": "http://testserver"},  # the portal's own page
    {"HTTP_SEC_FETCH_SITE": "none"},  # typed into the address bar
], ids=["script", "same-origin", "user-initiated"])
def test_scripts_and_the_portals_own_pages_still_change_things_over_basic(helpdesk1_basic, headers):
    response = act_for({**helpdesk1_basic, **headers})
    assert response.status_code == 201, response.content
    assert AuditEvent.objects.filter(action="act_for_start", actor_username="helpdesk1", result="ok").exists()


def test_an_origin_listed_in_csrf_trusted_origins_is_accepted(settings, helpdesk1_basic):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.corp.example"]
    assert act_for({**helpdesk1_basic, "HTTP_ORIGIN": "https://restore.corp.example"}).status_code == 201
    assert act_for({**helpdesk1_basic, "HTTP_ORIGIN": "https://restore.corp.example.evil"}).status_code == 403
    assert act_for({**helpdesk1_basic, "HTTP_ORIGIN": "http://restore.corp.example"}).status_code == 403


def test_a_session_api_request_still_needs_its_csrf_token(testenv):
    client = Client(enforce_csrf_checks=True)
    client.get("/signin/")
    token = client.cookies["csrftoken"].value
    signin = client.post("/signin/", {"username": "helpdesk1", "password": testenv.password,
                                      "csrfmiddlewaretoken": token})
    assert signin.status_code == 302
    token = client.cookies["csrftoken"].value  # rotated at sign-in
    without = client.post("/api/v1/helpdesk/act-for", json.dumps(ACT_FOR), content_type="application/json")
    assert without.status_code == 403 and "CSRF" in without.json()["detail"]
    assert not AuditEvent.objects.filter(action="act_for_start").exists()
    with_token = client.post("/api/v1/helpdesk/act-for", json.dumps(ACT_FOR), content_type="application/json",
                             HTTP_X_CSRFTOKEN=token)
    assert with_token.status_code == 201, with_token.content


# --- no Basic challenge to browsers ---------------------------------------------------------------


@pytest.mark.parametrize("browser_says", [
    {"HTTP_SEC_FETCH_MODE": "navigate", "HTTP_SEC_FETCH_DEST": "document", "HTTP_SEC_FETCH_SITE": "none",
     "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},  # the address bar
    {"HTTP_SEC_FETCH_MODE": "cors", "HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_ACCEPT": "*/*",
     "HTTP_ORIGIN": "http://testserver"},  # fetch() from a page
    {"HTTP_ACCEPT": "text/html"},  # a browser over plain http to a non-local name sends no Sec-Fetch-*
], ids=["navigation", "fetch", "html-only"])
def test_a_browser_is_never_sent_a_basic_challenge(testenv, browser_says):
    for credentials in ({}, basic_auth("alice", "not-her-password")):
        response = Client().get("/api/v1/me", HTTP_USER_AGENT=FIREFOX, **browser_says, **credentials)
        assert response.status_code == 401
        challenge = response["WWW-Authenticate"]
        assert challenge.startswith("Session ") and "basic" not in challenge.lower()


def test_scripts_still_get_the_basic_challenge(testenv):
    for agent in ("curl/8.5.0", "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621"):
        response = Client().get("/api/v1/me", HTTP_USER_AGENT=agent)
        assert response.status_code == 401 and response["WWW-Authenticate"] == 'Basic realm="vdiprotect"'


# --- Basic sign-ins in the audit trail ------------------------------------------------------------


def basic_sign_ins(username: str):
    return AuditEvent.objects.filter(action="sign_in", result="ok", actor_username=username,
                                     details__via="http-basic").order_by("id")


def test_a_basic_sign_in_is_audited_once_per_person_per_client_per_hour(testenv):
    alice = basic_auth("alice", testenv.password)
    for _ in range(3):
        assert Client().get("/api/v1/me", HTTP_USER_AGENT="backup-report/1.0", **alice).status_code == 200
    (first,) = basic_sign_ins("alice")
    assert first.source_ip == "127.0.0.1" and first.actor_sid.startswith("S-1-5-21-")
    assert first.details["user_agent"] == "backup-report/1.0" and first.details["path"] == "/api/v1/me"
    assert "user" in first.details["roles"]

    Client().get("/api/v1/me", HTTP_USER_AGENT="curl/8.5.0", **alice)  # another program
    Client().get("/api/v1/me", HTTP_USER_AGENT="backup-report/1.0", REMOTE_ADDR="10.20.30.40", **alice)  # elsewhere
    Client().get("/api/v1/me", HTTP_USER_AGENT="backup-report/1.0", **basic_auth("bob", testenv.password))
    assert [(e.details["user_agent"], e.source_ip) for e in basic_sign_ins("alice")] == [
        ("backup-report/1.0", "127.0.0.1"), ("curl/8.5.0", "127.0.0.1"), ("backup-report/1.0", "10.20.30.40")]
    assert basic_sign_ins("bob").count() == 1

    cache.clear()  # the hour is over
    Client().get("/api/v1/me", HTTP_USER_AGENT="backup-report/1.0", **alice)
    assert basic_sign_ins("alice").count() == 4


def test_a_refused_basic_request_is_not_recorded_as_a_sign_in(testenv):
    Client().get("/api/v1/me", **basic_auth("alice", "not-her-password"))
    assert not basic_sign_ins("alice").exists()
    assert AuditEvent.objects.filter(action="sign_in", result="failed", actor_username="alice").exists()
