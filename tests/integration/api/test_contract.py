"""The API's contract (issue 8): the OpenAPI schema served at /api/schema/ validates, and a
bounded, deterministic schemathesis run over every operation in it, signed in over HTTP Basic as
the test domain's real AD users, gets no 5xx and no answer the schema does not describe (status
code, content type, body, headers).

The run calls Django's WSGI handler in this thread, so every request runs inside this test's
transaction, and each case is rolled back to a savepoint after its answer: nothing a case writes
(audit records, acting-fors, restore jobs) outlives it, and a restore job is never queued (jobs are
queued on commit, and no commit happens). Jobs run only in a Celery worker, so nothing is written
to the shares.

Throttling is tested at the end of this file; HTTP Basic turned off (API_BASIC_AUTH=false) in
test_signin.py.
"""

from __future__ import annotations

import json
import time

import pytest
import schemathesis
import yaml
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from openapi_spec_validator import validate

from restore.models import Identity, RestoreJob
from tests.conftest import basic_auth

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

MAX_EXAMPLES = 12  # per operation in the fuzzing phase; the examples and coverage phases add their own
SEED = 20261126
# alice's folders as the test domain builds them (README, "The sample domain"): real things for the
# generated paths to hit, besides whatever schemathesis makes up
PATHS = ["Documents", "Documents/Finance", "Documents/Finance/forecast.xlsx", "Documents/Archive/handover.docx",
         "Documents/notes.txt", "Documents/GIS/parcels.shp", "Documents/ledger.sqlite", "Documents/setup.pdf",
         "Desktop", "Pictures/IMG_0001.jpg", "Documents/Old Project", "..", "Documents/../../bob"]


def user_for(path: str) -> str:
    """Whose role the operation needs: the helpdesk's and the auditors' endpoints are called as
    their members (so they are exercised beyond 403), everything else as alice."""
    if path.startswith("/api/v1/helpdesk/"):
        return "helpdesk1"
    if path.startswith("/api/v1/audit"):
        return "auditor1"
    return "alice"


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler in this thread and this test's transaction. Like Django's test client
    it must not close the database connection at the start and end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def alices_things(sign_in):
    """alice's data folder, its snapshots and a finished download-mode restore of hers, for the
    generated requests to name besides made-up values."""
    alice = sign_in("alice")
    ident = Identity.objects.get(username="alice")
    job = RestoreJob.objects.create(owner=ident.user, owner_username="alice", requested_by=ident.user,
                                    requested_by_username="alice", role="user", mode="download",
                                    conflict="rename", state="done")
    assert "data" in [r["id"] for r in alice.get("/api/v1/roots").json()]
    snapshots = [s["id"] for s in alice.get("/api/v1/roots/data/snapshots").json()]
    yield {"roots": ["data"], "snapshots": snapshots, "job": str(job.id)}
    # every case was rolled back: the jobs the run started are gone, this one is left
    assert list(RestoreJob.objects.values_list("id", flat=True)) == [job.id]


def run_config(things: dict) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # Our validation has rules OpenAPI cannot state (since < until, a path that exists, a
            # snapshot of this root) and reads an empty query value as absent, the way the pages'
            # forms send it: "schema-valid means accepted" and "schema-invalid means 400" would be
            # false alarms. Status-code conformance still requires every refusal to be a documented
            # 4xx in the API's error format.
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"enabled": False},
            # Replays each request with wrong credentials: that locks the real AD users out (axes),
            # as it should. Every route's answer to anonymous callers is in test_role_matrix.py.
            "ignored_auth": {"enabled": False},
        },
        "dictionaries": {
            "roots": {"values": things["roots"]},
            "paths": {"values": PATHS},
            "snapshots": {"values": things["snapshots"]},
            "jobs": {"values": [things["job"]]},
            "names": {"values": ["handover", "notes", "bob", "ali", "*.xlsx"]},
            "people": {"values": ["alice", "bob", "carol", "dave", "admin1"]},
            "tickets": {"values": ["INC0012345"]},
        },
        "parameters": {
            "path.root": {"dictionary": "roots", "probability": 0.7},
            "query.path": {"dictionary": "paths", "probability": 0.7},
            "query.at": {"dictionary": "snapshots", "probability": 0.5},
            "query.against": {"dictionary": "snapshots", "probability": 0.5},
            "path.job_id": {"dictionary": "jobs", "probability": 0.5},
            "query.q": {"dictionary": "names", "probability": 0.5},
            "query.person": {"dictionary": "people", "probability": 0.5},
            "body.items[*].root": {"dictionary": "roots", "probability": 0.8},
            "body.items[*].path": {"dictionary": "paths", "probability": 0.8},
            "body.items[*].at": {"dictionary": "snapshots", "probability": 0.8},
            "body.target.root": {"dictionary": "roots", "probability": 0.8},
            "body.target.path": {"dictionary": "paths", "probability": 0.8},
            "body.username": {"dictionary": "people", "probability": 0.7},
            "body.ticket": {"dictionary": "tickets", "probability": 0.7},
        },
    })


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4.32 reads and renames ``node._nodeid``, which pytest 9.2 no longer has (it
    keeps the id in ``_id``): give it the attribute so its subtests run."""
    request.node._nodeid = request.node.nodeid


@pytest.fixture
def api_schema(alices_things, wsgi_app, settings):  # Django's test client (alices_things) reconnects
    # close_old_connections after each of its requests: wsgi_app must come after it
    # The run makes hundreds of calls a minute as one person: the throttles would answer 429.
    settings.API_THROTTLE_RATE = "1000000/min"
    settings.RESTORE_START_RATE = "1000000/min"
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "a restore started by the run would run in this process"
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, config=run_config(alices_things))


@pytest.fixture(scope="module")
def run_figures(request):
    """Operations, cases and time of the run, printed at the end of the module."""
    figures = {"cases": 0, "operations": set(), "statuses": {}, "started": time.monotonic()}
    yield figures
    if figures["cases"]:
        with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
            statuses = dict(sorted(figures["statuses"].items()))
            print(f"\nschemathesis: {len(figures['operations'])} operations, {figures['cases']} cases in "
                  f"{time.monotonic() - figures['started']:.0f} s; statuses {statuses}")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_keeps_the_contract(case, testenv, run_figures):
    auth = basic_auth(user_for(case.path), testenv.password)
    sid = transaction.savepoint()
    try:
        response = case.call(headers={"Authorization": auth["HTTP_AUTHORIZATION"]})
    finally:
        transaction.savepoint_rollback(sid)  # the next case starts from the same state
    run_figures["cases"] += 1
    run_figures["operations"].add(case.operation.label)
    run_figures["statuses"][response.status_code] = run_figures["statuses"].get(response.status_code, 0) + 1
    case.validate_response(response)


def test_the_run_leaves_no_jobs_behind():
    """Runs after the schemathesis run (same module, in order): nothing it created is left."""
    assert not RestoreJob.objects.exists()


# --- the schema itself --------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_the_served_schema_is_valid_openapi(form):
    response = Client().get("/api/schema/", {"format": form} if form == "json" else {})
    assert response.status_code == 200
    document = json.loads(response.content) if form == "json" else yaml.safe_load(response.content)
    validate(document)  # raises on the first violation of the OpenAPI specification
    assert document["openapi"].startswith("3.")
    assert any(p.startswith("/api/v1/") for p in document["paths"])


def test_spectacular_validates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_every_operation_documents_its_refusals_in_the_error_format():
    document = yaml.safe_load(Client().get("/api/schema/").content)
    problem = "#/components/schemas/Problem"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for code in ("401", "403", "429"):
                assert code in responses, f"{method.upper()} {path} does not document {code}"
            if "{" in path:
                assert "404" in responses, f"{method.upper()} {path} has path parameters but no 404"
            for code, response in responses.items():
                if code >= "400":
                    assert response["content"]["application/json"]["schema"]["$ref"] == problem, (method, path, code)


# --- throttling ---------------------------------------------------------------------------------


def test_the_request_over_the_rate_gets_429_with_retry_after(testenv, settings):
    settings.API_THROTTLE_RATE = "3/min"
    client = Client()
    auth = basic_auth("carol", testenv.password)
    answers = [client.get("/api/v1/me", **auth) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60
    assert answers[-1].json()["detail"]
    # per person: bob has his own allowance
    assert client.get("/api/v1/me", **basic_auth("bob", testenv.password)).status_code == 200
