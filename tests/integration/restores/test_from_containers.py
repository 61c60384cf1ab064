"""Restores out of a profile container (the fslogix share), as alice would ask for them: never into
the container (in place is refused, and says why), into her data folder (by default a folder named
after the snapshot's day) with the related files the app rules pull from inside the container, and
as a zip. The oracle is the container in that snapshot read from the server's disk.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import UTC, datetime

import pytest

from restore.models import JobState
from restore.restores import runner as copying
from restore.versions import containers
from restore.versions.container_client import forget_all
from tests.support.history import sha

pytestmark = [pytest.mark.django_db, pytest.mark.samba, pytest.mark.containers]

SIGNATURES = "AppData/Roaming/Microsoft/Signatures"


@pytest.fixture(autouse=True)
def _fresh_containers():
    forget_all()
    yield
    forget_all()


@pytest.fixture
def t1(alice) -> str:
    answer = alice.get("/api/v1/roots/profile-container/snapshots").json()
    return answer[-1]["id"]  # the oldest: 21 days ago


@pytest.fixture
def restored_folder(testenv, t1):
    day = datetime.strptime(t1, "@GMT-%Y.%m.%d-%H.%M.%S").replace(tzinfo=UTC).strftime("%Y-%m-%d")
    folder = testenv.share_path("data") / "alice" / f"Restored from profile {day}"
    assert not folder.exists(), f"{folder} is left over from an earlier run"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def inside(testenv, token: str, path: str) -> bytes:
    """The file as the container in that snapshot on the server's disk holds it."""
    (folder,) = [p for p in (testenv.snapdir("fslogix") / token).iterdir() if p.name.endswith("_alice")]
    with open(folder / "Profile_alice.vhdx", "rb") as fh, containers.open_container(fh) as c:
        return c.read("Profile\\" + path.replace("/", "\\"))


def restore(client, path, at, **options):
    body = {"items": [{"root": "profile-container", "path": path, "at": at}], **options}
    return client.post("/api/v1/restores", body, content_type="application/json")


@pytest.mark.parametrize("mode", ["replace", "alongside"])
def test_in_place_is_refused_and_the_answer_says_why(alice, t1, mode):
    answer = restore(alice, "Documents/notes.txt", t1, mode=mode, dry_run=True)
    assert answer.status_code == 400
    assert "never written" in answer.json()["detail"] and "to_folder" in answer.json()["detail"]


def test_the_container_is_never_a_target(alice, t1):
    answer = restore(alice, "Documents/notes.txt", t1, mode="to_folder",
                     target={"root": "profile-container", "path": "Documents"})
    assert answer.status_code == 400 and "never written" in answer.json()["detail"]


def test_to_folder_by_default_goes_to_a_dated_folder_of_her_data_root_with_the_signatures_related_files(
        alice, t1, testenv, restored_folder):
    dry = restore(alice, f"{SIGNATURES}/Work.htm", t1, mode="to_folder", dry_run=True)
    assert dry.status_code == 200, dry.content
    plan = dry.json()
    assert {i["target"]["root"] for i in plan["items"]} == {"data"}
    assert all(i["target"]["path"].startswith(restored_folder.name) for i in plan["items"])
    assert "never written" in plan["items"][0]["note"]
    pulled = {i["source"]["path"] for i in plan["items"] if i["origin"].startswith("related")}
    assert {f"{SIGNATURES}/Work.rtf", f"{SIGNATURES}/Work.txt", f"{SIGNATURES}/Work_files"} <= pulled
    assert not restored_folder.exists()  # a dry run writes nothing

    started = restore(alice, f"{SIGNATURES}/Work.htm", t1, mode="to_folder")
    assert started.status_code == 201, started.content
    assert copying.run_job(started.json()["id"]) == JobState.DONE
    written = {p.relative_to(restored_folder).as_posix(): p for p in restored_folder.rglob("*") if p.is_file()}
    for name in ("Work.htm", "Work.rtf", "Work.txt", "Work_files/image001.png", "Work_files/filelist.xml"):
        (match,) = [p for rel, p in written.items() if rel.endswith(name)]
        assert match.read_bytes() == inside(testenv, t1, f"{SIGNATURES}/{name}"), name
    assert b"Head of Finance" not in next(p for r, p in written.items() if r.endswith("Work.htm")).read_bytes()


def test_a_zip_of_files_from_the_container_holds_the_snapshots_bytes(alice, t1, testenv):
    started = restore(alice, "Documents/notes.txt", t1, mode="download")
    assert started.status_code == 201, started.content
    response = alice.get(started.json()["download_url"])
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    (member,) = [n for n in archive.namelist() if n.endswith("notes.txt")]
    expected = inside(testenv, t1, "Documents/notes.txt")
    assert archive.read(member) == expected == b"Notes\n- call the bank\n"
    assert f"{sha(expected)}  {member}" in archive.read("SHA256SUMS.txt").decode()


def test_a_file_granted_only_to_bob_inside_alices_container_cannot_be_restored(alice, t1):
    answer = restore(alice, "Documents/for-bob-only.txt", t1, mode="download")
    assert answer.status_code == 404


@pytest.mark.parametrize(("language", "name"), [("de", "Wiederhergestellt aus dem Profil"),
                                                ("fr", "Restauré depuis le profil")])
def test_the_default_folder_is_named_in_the_persons_language(alice, t1, language, name):
    day = datetime.strptime(t1, "@GMT-%Y.%m.%d-%H.%M.%S").strftime("%Y-%m-%d")
    body = {"items": [{"root": "profile-container", "path": "Documents/notes.txt", "at": t1}],
            "mode": "to_folder", "dry_run": True}
    dry = alice.post("/api/v1/restores", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE=language)
    assert dry.status_code == 200, dry.content
    assert dry.json()["items"][0]["target"]["path"].startswith(f"{name} {day}")
