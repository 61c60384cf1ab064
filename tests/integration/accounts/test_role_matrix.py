"""Role x endpoint matrix: every URL pattern Django resolves, called as anonymous, alice, bob,
helpdesk1, auditor1 and helpdesk1 acting for bob, with path parameters filled in with alice's
resources. Each call must answer the status its classification allows for that role, and nobody
but the roles listed for it may find any of alice's names in a response body.

A URL pattern that is not classified in TABLE fails the suite: classify it (who may call it, with
which status, who may see alice's names). A classified pattern that does not exist (yet) is simply
not exercised.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from restore.models import Identity

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

ANON, ALICE, BOB, HELPDESK, AUDITOR, HELPDESK_FOR_BOB = (
    "anonymous", "alice", "bob", "helpdesk1", "auditor1", "helpdesk1 for bob")
ROLES = (ANON, ALICE, BOB, HELPDESK, AUDITOR, HELPDESK_FOR_BOB)
SIGNED_IN = ROLES[1:]
FILE_USERS = (BOB, HELPDESK, HELPDESK_FOR_BOB)  # may use files, but none of them is alice


@dataclass(frozen=True)
class Call:
    method: str
    expect: dict[str, set[int]]
    params: dict = field(default_factory=dict)  # query (GET) or body; "{at}" and "{job}" are filled in
    sees_alice: frozenset[str] = frozenset({ALICE})  # roles whose answers may name alice's things
    fresh: bool = False  # changes the session (sign-out, act-for): made on a client of its own
    form: bool = False  # a page's form post, not JSON


def everyone(*codes: int) -> dict:
    return {role: set(codes) for role in ROLES}


def signed_in_only(ok: int, *, anonymous: int) -> dict:
    return {ANON: {anonymous}, **{role: {ok} for role in SIGNED_IN}}


def files(*, anonymous: int, alice=frozenset({200}), others=frozenset({404})) -> dict:
    """Browsing, content and restores: alice's resource for alice, 404 for other file users,
    403 for auditors (separation of duties)."""
    return {ANON: {anonymous}, ALICE: set(alice), **{r: set(others) for r in FILE_USERS}, AUDITOR: {403}}


def only(roles: tuple[str, ...], ok: int, *, anonymous: int) -> dict:
    return {ANON: {anonymous}, **{r: ({ok} if r in roles else {403}) for r in SIGNED_IN}}


def staff_only_api() -> dict:
    """Django staff (the local emergency administrator) only: every AD person gets 403."""
    return {ANON: {401}, **{r: {403} for r in SIGNED_IN}}


def files_api(**kw):
    return files(anonymous=401, **kw)


def files_page(**kw):
    return files(anonymous=302, **kw)


HELPDESKS = (HELPDESK, HELPDESK_FOR_BOB)
OWN = frozenset({200})  # each person's own list or root: everyone who may use files gets 200
ACT_FOR_ALICE = {"username": "alice", "ticket": "MATRIX-1", "reason": "role matrix"}
ALICES_UNC = "\\\\127.0.0.1\\data\\alice\\Documents\\Finance"
DRY_RUN = {"items": [{"root": "data", "path": "Documents/Archive/handover.docx", "at": "{at}"}], "dry_run": True}

TABLE: dict[str, list[Call]] = {
    # the admin site is for the local emergency administrator only; AD people are sent to its sign-in
    "admin/": [Call("GET", everyone(302))],
    "api/schema/": [Call("GET", everyone(200))],
    "api/docs/": [Call("GET", everyone(200))],
    "api/v1/me": [Call("GET", signed_in_only(200, anonymous=401))],
    "api/v1/roots": [Call("GET", files_api(others=OWN))],
    "api/v1/roots/<str:root>/snapshots": [Call("GET", files_api(others=OWN))],
    "api/v1/roots/<str:root>/entries": [
        Call("GET", files_api(), {"path": "Documents/Finance"}),
        Call("GET", files_api(), {"path": "Documents/Archive", "at": "{at}"})],
    "api/v1/roots/<str:root>/versions": [Call("GET", files_api(), {"path": "Documents/Archive/handover.docx"})],
    "api/v1/roots/<str:root>/content": [
        Call("GET", files_api(), {"path": "Documents/Archive/handover.docx", "at": "{at}"})],
    "api/v1/roots/<str:root>/diff": [
        Call("GET", files_api(), {"path": "Documents/Archive/handover.docx", "at": "{at}"})],
    "api/v1/roots/<str:root>/related": [
        Call("GET", files_api(), {"path": "Documents/Finance/forecast.xlsx", "at": "{at}"})],
    "api/v1/helpdesk/users": [
        Call("GET", only(HELPDESKS, 200, anonymous=401), {"q": "ali"}, sees_alice=frozenset({ALICE, *HELPDESKS}))],
    "api/v1/helpdesk/act-for": [
        Call("GET", only(HELPDESKS, 200, anonymous=401)),
        Call("POST", only(HELPDESKS, 201, anonymous=401), ACT_FOR_ALICE, frozenset({ALICE, *HELPDESKS}), fresh=True),
        Call("DELETE", only(HELPDESKS, 204, anonymous=401), fresh=True)],
    "api/v1/audit": [Call("GET", only((AUDITOR,), 200, anonymous=401), sees_alice=frozenset({ALICE, AUDITOR}))],
    "api/v1/audit/export": [
        Call("GET", only((AUDITOR,), 200, anonymous=401), {"format": "csv"}, frozenset({ALICE, AUDITOR}))],
    "api/v1/restores": [
        Call("GET", files_api(others=OWN)),
        Call("POST", files_api(others={200, 400, 404}), DRY_RUN)],
    "api/v1/restores/<uuid:job_id>": [Call("GET", files_api())],
    "api/v1/restores/<uuid:job_id>/cancel": [Call("POST", files_api(alice={200, 409}))],
    "api/v1/restores/<uuid:job_id>/download": [Call("GET", files_api(alice={404}))],  # alice's job is no download
    "api/v1/search": [Call("GET", files_api(others=OWN), {"q": "handover"})],
    "api/v1/catalog": [Call("GET", staff_only_api())],
    "api/v1/catalog/<int:source_id>/build": [Call("POST", staff_only_api())],
    "": [Call("GET", signed_in_only(200, anonymous=302))],
    "signin/": [Call("GET", {ANON: {200}, **{r: {302} for r in SIGNED_IN}})],
    "signout/": [Call("POST", everyone(302), fresh=True, form=True)],
    "me/": [Call("GET", signed_in_only(200, anonymous=302))],
    "roots/<str:root>/": [Call("GET", files_page(), {"path": "Documents/Finance"})],
    "roots/<str:root>/file": [Call("GET", files_page(), {"path": "Documents/Archive/handover.docx"})],
    "roots/<str:root>/related": [
        Call("GET", files_page(), {"path": "Documents/Finance/forecast.xlsx", "at": "{at}"})],
    "helpdesk/": [Call("GET", only(HELPDESKS, 200, anonymous=302), {"q": "ali"}, frozenset({ALICE, *HELPDESKS}))],
    "helpdesk/act-for": [
        Call("POST", only(HELPDESKS, 302, anonymous=302), ACT_FOR_ALICE, frozenset({ALICE, *HELPDESKS}),
             fresh=True, form=True)],
    "helpdesk/stop": [Call("POST", only(HELPDESKS, 302, anonymous=302), fresh=True, form=True)],
    "audit/": [Call("GET", only((AUDITOR,), 200, anonymous=302), sees_alice=frozenset({ALICE, AUDITOR}))],
    "healthz": [Call("GET", everyone(200))],
    # Explorer's link: alice's folder opens for alice (a redirect to its page), is 404 for everyone else
    "open": [Call("GET", files_page(alice={302}), {"unc": ALICES_UNC})],
    "api/v1/resolve": [Call("GET", files_api(), {"unc": ALICES_UNC})],
    "language/": [Call("POST", everyone(302), {"language": "de", "next": "/"}, fresh=True, form=True)],
    "restores/": [Call("GET", files_page(others=OWN))],
    "restores/new": [Call("GET", files_page(),  # the dialog: a dry run, nothing written
                          {"root": "data", "path": "Documents/Finance/forecast.xlsx", "at": "{at}"})],
    "restores/<uuid:job_id>/": [Call("GET", files_page())],
    "restores/<uuid:job_id>/cancel": [Call("POST", files_page(alice={302}), form=True)],
    "search/": [Call("GET", files_page(others=OWN), {"q": "handover"})],
    "catalog/": [Call("GET", everyone(302))],  # staff only: everyone else is sent to the admin's sign-in
}
NOT_DESCENDED = ("admin/",)  # classified as a whole


def url_patterns(patterns=None, prefix: str = "") -> list[str]:
    """Every route Django resolves, as written in the URLconfs (admin/ as one)."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver) and route not in NOT_DESCENDED:
            routes += url_patterns(pattern.url_patterns, route)
        elif isinstance(pattern, (URLPattern, URLResolver)):
            routes.append(route)
    return routes


def test_each_pattern_is_classified_once():
    """A dict literal keeps the last of two equal keys silently: classify each pattern in one place."""
    tree = ast.parse(Path(__file__).read_text())
    table = next(node.value for node in ast.walk(tree)
                 if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "TABLE")
    keys = [key.value for key in table.keys]
    assert not [k for k in set(keys) if keys.count(k) > 1], "classified twice in TABLE"


def test_every_url_pattern_is_classified_in_the_matrix():
    unclassified = [route for route in url_patterns() if route not in TABLE]
    assert not unclassified, (
        f"URL pattern(s) missing from the role matrix: {unclassified}. Classify each in TABLE of "
        "tests/integration/accounts/test_role_matrix.py: the status each role gets, and who may see alice's names.")


# --- calling --------------------------------------------------------------------------------------


@pytest.fixture
def facts(testenv):
    """alice's resources: her snapshot, a restore job of hers, and the names only she may see."""
    from restore.models import RestoreJob

    alice = Client()
    assert alice.post("/signin/", {"username": "alice", "password": testenv.password}).status_code == 302
    ident = Identity.objects.get(username="alice")
    job = RestoreJob.objects.create(owner=ident.user, owner_username="alice", requested_by=ident.user,
                                    requested_by_username="alice", role="user", mode="alongside",
                                    conflict="rename", state="done")
    at = alice.get("/api/v1/roots/data/snapshots").json()[-1]["id"]
    names = ["Alice Archer", ident.sid, str(job.id), "handover", "salaries", "forecast", "Budget 2026", "IMG_0001",
             "meeting-minutes", "parcels", "ledger", "data\\alice", "data\\\\alice", "alice.V6"]
    return {"at": at, "job": str(job.id), "names": names,
            "path_args": {"root": "data", "job_id": str(job.id), "source_id": "1"}}


def client_for(role: str, testenv) -> Client:
    client = Client()
    if role == ANON:
        return client
    username = HELPDESK if role == HELPDESK_FOR_BOB else role
    assert client.post("/signin/", {"username": username, "password": testenv.password}).status_code == 302
    if role == HELPDESK_FOR_BOB:
        started = client.post("/api/v1/helpdesk/act-for", json.dumps({**ACT_FOR_ALICE, "username": "bob"}),
                              content_type="application/json")
        assert started.status_code == 201, started.content
    return client


def fill(value, facts):
    if isinstance(value, str):
        return value.replace("{at}", facts["at"]).replace("{job}", facts["job"])
    if isinstance(value, dict):
        return {k: fill(v, facts) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, facts) for v in value]
    return value


def url_of(route: str, facts) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: facts["path_args"][m[1]], route)


def call(client: Client, call_: Call, url: str, params: dict):
    if call_.method == "GET":
        return client.get(url, params)
    if call_.form:
        return client.post(url, params)
    body = json.dumps(params) if params else ""
    return getattr(client, call_.method.lower())(url, body, content_type="application/json")


def body_of(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", "replace") + " " + response.get("Location", "")


@pytest.mark.parametrize("role", ROLES)
def test_no_role_gets_more_than_its_classification_and_nobody_else_sees_alices_names(role, testenv, facts):
    shared = client_for(role, testenv)
    problems, exercised = [], 0
    # calls that change a session go last: starting to act for alice ends the shared client's acting for bob
    calls = sorted(((route, entry) for route in url_patterns() for entry in TABLE.get(route, [])),
                   key=lambda pair: pair[1].fresh)
    for route, entry in calls:
        url, params = url_of(route, facts), fill(entry.params, facts)
        client = client_for(role, testenv) if entry.fresh else shared
        response = call(client, entry, url, params)
        exercised += 1
        where = f"{role}: {entry.method} {url} {params or ''}"
        if response.status_code not in entry.expect[role]:
            problems.append(f"{where} answered {response.status_code}, allowed {sorted(entry.expect[role])}")
        if role == ANON and response.status_code == 302 and url not in ("/signout/", "/language/"):
            if not response["Location"].startswith(("/signin/", "/admin/login/")):
                problems.append(f"{where} redirected anonymous to {response['Location']}, not a sign-in page")
        if role not in entry.sees_alice:
            asked = url + json.dumps(params)
            shown = [n for n in facts["names"] if n not in asked and n.lower() in body_of(response).lower()]
            if shown:
                problems.append(f"{where} showed alice's {shown}")
    assert exercised >= 30
    assert not problems, "\n".join(problems)
