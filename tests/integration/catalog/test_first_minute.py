"""Searchable from the first minute (issue 22): a worker that starts on a fresh database queues a build of
every configured share by itself (no beat, nobody pressing "Build now"), and the search answers from the
snapshots catalogued so far, saying how far the catalog is."""

from __future__ import annotations

import time

import pytest

from restore.models.catalog import CatalogSource

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.samba]


def test_a_new_worker_on_a_fresh_database_makes_a_deleted_file_findable_within_a_minute(worker, alice):
    assert not CatalogSource.objects.exists()  # fresh: nothing registered, nothing built
    started = time.monotonic()
    answers = []
    while time.monotonic() - started < 60:
        response = alice.get("/api/v1/search", {"q": "report.docx", "root": "data"})
        assert response.status_code == 200, response.content  # answers while the catalog is being built
        answers.append(response.json())
        hits = [r for r in answers[-1]["results"] if r["path"] == "Documents/report.docx"]
        if hits:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"report.docx was not found within 60 s; the last answer: {answers[-1]}; "
                             f"the worker's log: {worker.log_dir}")
    (hit,) = hits
    assert hit["exists_live"] is False and hit["versions"]  # deleted since, with the snapshots that hold it
    coverage = answers[-1]["coverage"][0]
    assert coverage["catalogued"] and coverage["snapshots"] >= 1
    assert coverage["progress"].startswith("catalogued "), coverage
    if coverage["pending"]:
        assert f"of {coverage['snapshots'] + coverage['pending']} snapshots" in coverage["progress"]
