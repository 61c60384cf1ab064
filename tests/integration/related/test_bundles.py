"""Related files against the real Samba shares: each built-in rule on its fixture, always from one snapshot.

The oracle is the file system behind the share: each snapshot is a directory named by its @GMT
token in the share's snapdir (scripts/testenv_files.py describes the history T1 < T2 < T3 < live).
Scratch files (live only) live in a folder of this test's own under alice's data folder, made and
removed over SMB by the service account.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from restore import smb
from restore.accounts.identity import roots_of, token_of
from restore.models import AuditEvent, Identity, RelatedRule
from restore.nt.constants import INHERITED_ACE, SE_DACL_PRESENT, SE_DACL_PROTECTED, SE_SELF_RELATIVE
from restore.nt.descriptors import SecurityDescriptor, build_security_descriptor, parse_security_descriptor
from restore.related import bundles
from restore.related import rules as related
from restore.versions.roots import NotFound
from tests.support import people
from tests.support.history import (CASES, CODE, FF, FOLDER_OF, SHARE_OF, SIG, T1, T2, T3, generation, on_disk, sha,
                                   stream_bytes)

pytestmark = [pytest.mark.django_db, pytest.mark.samba]


# --- helpers --------------------------------------------------------------------------------------


@pytest.fixture
def alice_subject(alice):
    """alice's token and roots, as the portal stored them at her sign-in."""
    ident = Identity.objects.get(username="alice")
    return token_of(ident), {r.id: r for r in roots_of(ident)}


def share_path(root: str, path: str) -> str:
    return FOLDER_OF[root] + "\\" + path.replace("/", "\\")


def mtime(p: Path) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=p.stat().st_mtime_ns // 1000)


def assert_from_snapshot(testenv, svc, root: str, item: bundles.Item, snapshot: smb.Snapshot | None):
    """The item is the one in that snapshot: its size and time are that snapshot's, and reading it at
    that snapshot over SMB gives that snapshot's bytes on disk."""
    disk = on_disk(testenv, root, item.path, snapshot)
    when = snapshot.at if snapshot else None
    if item.kind == "folder":
        assert disk.is_dir(), item
    elif item.kind == "stream":
        expected = stream_bytes(disk, item.stream)
        assert item.size == len(expected)
        assert svc.sha256(SHARE_OF[root], share_path(root, item.path) + ":" + item.stream, at=when) == sha(expected)
    else:
        assert (item.size, item.last_write) == (disk.stat().st_size, mtime(disk)), item
        assert svc.sha256(SHARE_OF[root], share_path(root, item.path), at=when) == sha(disk.read_bytes()), item


def keys(items, rule: str | None = None) -> set[str]:
    return {i.key for i in items if rule is None or i.rule == rule}


def api(client, root, **params):
    return client.get(f"/api/v1/roots/{root}/related", params)


# --- every built-in rule, on its fixture, from one snapshot ---------------------------------------


def test_every_built_in_rule_has_a_case_here():
    from tests.integration.versions.test_container_roots import CONTAINER_CASES  # rules for what lives in containers

    assert {r.name for r in related.builtin_rules()} == {c.rule for c in CASES} | {c[2] for c in CONTAINER_CASES}
    assert len(CASES) >= 12


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.rule)
def test_built_in_rule_pulls_its_files_all_from_the_chosen_snapshot(testenv, svc, alice_subject, case):
    token, roots = alice_subject
    snapshot = generation(testenv, case.root, case.generation)
    for key in case.pulled:  # the fixture holds what the rule should find, in that snapshot
        assert on_disk(testenv, case.root, key.split(":")[0], snapshot).exists(), key

    found = bundles.bundle(token, roots[case.root], case.path.replace("/", "\\"), snapshot)

    assert found.at == snapshot
    assert keys(found.related, case.rule) == set(case.pulled)
    assert all(i.included for i in found.related)
    assert all(i.reason and i.application for i in found.related)
    for item in (found.item, *found.related):
        assert_from_snapshot(testenv, svc, case.root, item, snapshot)


def test_live_wal_differs_yet_the_bundle_holds_the_snapshots_wal(testenv, svc, alice_subject):
    token, roots = alice_subject
    t3 = generation(testenv, "profile", T3)
    wal = f"{FF}/places.sqlite-wal"
    live, then = on_disk(testenv, "profile", wal, None), on_disk(testenv, "profile", wal, t3)
    assert sha(live.read_bytes()) != sha(then.read_bytes())  # the fixture's live WAL moved on after T3

    found = bundles.bundle(token, roots["profile"], f"{FF}/places.sqlite".replace("/", "\\"), t3)

    (item,) = [i for i in found.related if i.key == wal]
    assert item.rule == "sqlite-journal" and item.included
    assert (item.size, item.last_write) == (then.stat().st_size, mtime(then)) != (live.stat().st_size, mtime(live))
    assert svc.sha256("profiles", share_path("profile", wal), at=t3.at) == sha(then.read_bytes())
    assert keys(found.related) >= {f"{FF}/favicons.sqlite-wal", f"{FF}/places.sqlite-shm", f"{FF}/prefs.js"}


def test_each_snapshot_gives_its_own_versions_of_the_set(testenv, alice_subject):
    """The signature changed at T3: a bundle at T2 and one at T3 hold different Work files, each its own."""
    token, roots = alice_subject
    path = f"{SIG}/Work.htm".replace("/", "\\")
    t2, t3 = (generation(testenv, "profile", n) for n in (T2, T3))
    at_t2, at_t3 = (bundles.bundle(token, roots["profile"], path, s) for s in (t2, t3))
    assert at_t2.item.last_write == mtime(on_disk(testenv, "profile", path, t2))
    assert at_t3.item.last_write == mtime(on_disk(testenv, "profile", path, t3))
    assert at_t2.item.last_write != at_t3.item.last_write
    assert keys(at_t2.related) == keys(at_t3.related)


def test_a_live_bundle_reads_the_live_files(testenv, svc, alice_subject):
    token, roots = alice_subject
    found = bundles.bundle(token, roots["profile"], f"{FF}/places.sqlite".replace("/", "\\"), None)
    assert found.at is None
    for item in (found.item, *found.related):
        assert_from_snapshot(testenv, svc, "profile", item, None)


def test_alternate_data_streams_of_every_file_in_the_bundle_are_listed(testenv, alice_subject):
    token, roots = alice_subject
    t1 = generation(testenv, "data", T1)
    found = bundles.bundle(token, roots["data"], "Documents\\setup.pdf", t1)
    (stream,) = [i for i in found.related if i.kind == "stream"]
    assert (stream.path, stream.stream, stream.rule) == ("Documents\\setup.pdf", "Zone.Identifier", "alternate-data-streams")
    assert stream.key == "Documents/setup.pdf:Zone.Identifier" and stream.included
    assert stream.size == len(stream_bytes(on_disk(testenv, "data", "Documents/setup.pdf", t1), "Zone.Identifier"))


def test_a_pulled_folder_is_one_item_and_never_the_folder_of_the_chosen_file(testenv, alice_subject):
    token, roots = alice_subject
    t1 = generation(testenv, "profile", T1)
    in_snippets = bundles.bundle(token, roots["profile"], f"{CODE}/snippets/python.json".replace("/", "\\"), t1)
    assert keys(in_snippets.related, "vscode-user-settings") == {f"{CODE}/settings.json", f"{CODE}/keybindings.json"}
    signature = bundles.bundle(token, roots["profile"], f"{SIG}/Work.txt".replace("/", "\\"), t1)
    assert f"{SIG}/Work_files" in keys(signature.related)
    assert not any(k.startswith(f"{SIG}/Work_files/") for k in keys(signature.related))


def test_each_folder_is_listed_once_and_permissions_are_read_in_one_pipeline_per_round(
        testenv, alice_subject, monkeypatch):
    token, roots = alice_subject
    calls: dict[str, list] = {"list_dir": [], "security_descriptors_many": [], "security_descriptor": []}
    for method in calls:
        original = getattr(smb.Client, method)

        def spy(self, share, path, *args, _original=original, _calls=calls[method], **kwargs):
            _calls.append(path if isinstance(path, str) else tuple(path))
            return _original(self, share, path, *args, **kwargs)

        monkeypatch.setattr(smb.Client, method, spy)

    found = bundles.bundle(token, roots["profile"], f"{FF}/places.sqlite".replace("/", "\\"),
                           generation(testenv, "profile", T2))

    assert len(found.related) >= 5  # favicons and its WAL, prefs.js, places' WAL and SHM
    assert sorted(calls["list_dir"]) == sorted(set(calls["list_dir"])) == ["alice.V6\\" + FF.replace("/", "\\")]
    asked = [p for batch in calls["security_descriptors_many"] for p in batch]
    assert len(asked) == len(set(asked)) == len(found.related) - len([i for i in found.related if i.kind == "stream"])
    assert len(calls["security_descriptors_many"]) <= 2 and calls["security_descriptor"] == [
        "alice.V6\\" + f"{FF}/places.sqlite".replace("/", "\\")]  # the chosen file's own check


def test_names_match_whatever_their_case(alice_subject):
    token, roots = alice_subject
    found = bundles.bundle(token, roots["data"], "documents\\gis\\PARCELS.SHP", None)
    # the folders as the person spelled them (any case opens them), the names as the server has them
    assert {i.path for i in found.related if i.rule == "shapefile"} == {
        f"documents\\gis\\parcels.{e}" for e in ("shx", "dbf", "prj", "cpg")}


def test_a_folder_bundle_is_the_folder_alone(alice_subject):
    token, roots = alice_subject
    found = bundles.bundle(token, roots["data"], "Documents\\GIS", None)
    assert found.item.kind == "folder" and found.related == ()


def test_the_chosen_file_must_be_visible(testenv, alice_subject, settings):
    token, roots = alice_subject
    with pytest.raises(NotFound):
        bundles.bundle(token, roots["data"], "Documents\\no-such.sqlite", None)
    with pytest.raises(NotFound):  # readable by alice in the older snapshots only
        bundles.bundle(token, roots["data"], "Documents\\Archive\\handover.docx", None)
    assert bundles.bundle(token, roots["data"], "Documents\\Archive\\handover.docx",
                          generation(testenv, "data", T1)).item.kind == "file"


# --- access: a related file the person cannot read is skipped, never included ----------------------


@pytest.fixture
def scratch(svc, alice_subject):
    """A folder of this test's own in alice's data folder (live), removed afterwards."""
    name = f"related-{uuid.uuid4().hex[:10]}"
    svc.mkdir("data", f"alice\\{name}")
    yield name
    _remove_tree(svc, f"alice\\{name}")


def _remove_tree(client: smb.Client, path: str) -> None:
    for entry in client.list_dir("data", path):
        child = f"{path}\\{entry.name}"
        _remove_tree(client, child) if entry.is_dir else client.delete("data", child)
    client.delete("data", path)


def _write(client: smb.Client, path: str, data: bytes) -> None:
    with client.create_file("data", path) as handle:
        handle.write(0, data)


def _deny_alice(client: smb.Client, path: str) -> None:
    """Take alice's (inherited) ACE off the file, protected from inheritance: SYSTEM, the
    administrators and the service group keep theirs (as Archive/handover.docx in the fixtures)."""
    alice_sid = Identity.objects.get(username="alice").sid
    sd = parse_security_descriptor(client.security_descriptor("data", path))
    aces = tuple(replace(a, flags=a.flags & ~INHERITED_ACE) for a in sd.dacl if a.sid != alice_sid)
    protected = SecurityDescriptor(sd.owner, sd.group, aces, SE_SELF_RELATIVE | SE_DACL_PRESENT | SE_DACL_PROTECTED)
    client.set_security_descriptor("data", path, build_security_descriptor(protected))


def test_a_related_file_alice_cannot_read_is_listed_as_skipped_with_the_reason(testenv, svc, alice_subject,
                                                                               scratch, alice):
    token, roots = alice_subject
    folder = f"alice\\{scratch}"
    for suffix in ("", "-journal", "-wal"):
        _write(svc, f"{folder}\\db.sqlite{suffix}", f"db{suffix}".encode())
    _deny_alice(svc, f"{folder}\\db.sqlite-wal")
    alice_smb = people.client(testenv, "alice")
    with pytest.raises(smb.AccessDenied):  # Samba agrees: alice may not read it
        alice_smb.try_open("data", f"{folder}\\db.sqlite-wal", 0x120089)

    found = bundles.bundle(token, roots["data"], f"{scratch}\\db.sqlite", None)

    by_key = {i.key: i for i in found.related}
    assert set(by_key) == {f"{scratch}/db.sqlite-journal", f"{scratch}/db.sqlite-wal"}  # no -shm: absent
    assert by_key[f"{scratch}/db.sqlite-journal"].included
    wal = by_key[f"{scratch}/db.sqlite-wal"]
    assert not wal.included and wal.skip_reason == "you cannot read it in this snapshot"
    assert [i.key for i in found.included] == [f"{scratch}/db.sqlite-journal"]

    page = alice.get("/roots/data/related", {"path": f"{scratch}/db.sqlite"}).content.decode()
    wal_item = page.split(f"{scratch}\\db.sqlite-wal")[1].split("</li>")[0]
    assert "Not restored: you cannot read it in this snapshot" in wal_item


def test_a_wildcard_match_alice_cannot_read_is_not_even_named(svc, alice_subject, scratch):
    token, roots = alice_subject
    folder = f"alice\\{scratch}"
    for name in ("main.txt", "open.log", "secret.log"):
        _write(svc, f"{folder}\\{name}", name.encode())
    _deny_alice(svc, f"{folder}\\secret.log")
    logs = related.parse_rule({"name": "logs", "application": "Test", "reason": "Logs go with it.",
                               "match": f"{scratch}/main.txt", "siblings": ["*.log"]}, "test")

    found = bundles.bundle(token, roots["data"], f"{scratch}\\main.txt", None, rules=[logs])

    assert keys(found.related) == {f"{scratch}/open.log"}


def test_a_bundle_stops_growing_at_its_limit_and_says_so(svc, alice_subject, scratch, monkeypatch):
    token, roots = alice_subject
    for name in ("main.txt", "a.log", "b.log", "c.log"):
        _write(svc, f"alice\\{scratch}\\{name}", name.encode())
    logs = related.parse_rule({"name": "logs", "application": "Test", "reason": "Logs go with it.",
                               "match": "**/main.txt", "siblings": ["*.log"]}, "test")
    assert not bundles.bundle(token, roots["data"], f"{scratch}\\main.txt", None, rules=[logs]).truncated
    monkeypatch.setattr(bundles, "MAX_RELATED", 2)

    found = bundles.bundle(token, roots["data"], f"{scratch}\\main.txt", None, rules=[logs])

    assert found.truncated and len(found.related) == 2


# --- the API and the page ------------------------------------------------------------------------


def test_api_lists_the_bundle_with_each_rules_reason_and_audits_it(testenv, alice):
    t2 = generation(testenv, "profile", T2)
    response = api(alice, "profile", path=f"{FF}/places.sqlite", at=t2.token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["at"] == t2.token and body["item"]["path"] == f"{FF}/places.sqlite"
    prefs = next(i for i in body["related"] if i["key"] == f"{FF}/prefs.js")
    firefox = next(r for r in related.builtin_rules() if r.name == "firefox-profile")
    assert prefs | {"last_write": None} == {
        "key": f"{FF}/prefs.js", "path": f"{FF}/prefs.js", "name": "prefs.js", "kind": "file", "stream": "",
        "size": on_disk(testenv, "profile", f"{FF}/prefs.js", t2).stat().st_size, "last_write": None,
        "rule": "firefox-profile", "application": "Mozilla Firefox", "reason": firefox.reason,
        "included": True, "skip_reason": ""}
    event = AuditEvent.objects.filter(actor_username="alice", action="list").get()
    assert (event.path, event.snapshot, event.details["operation"]) == (f"{FF}/places.sqlite".replace("/", "\\"),
                                                                        t2.token, "related")


BAD_PATHS = ["../bob", "Documents/../../bob", "/etc/passwd", "\\\\127.0.0.1\\data\\bob", "C:\\Windows",
             "Documents/setup.pdf:Zone.Identifier", "@GMT-2026.01.01-00.00.00/notes.txt", "Documents//notes.txt",
             "CON", ""]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_api_answers_400_to_a_bad_path_and_records_nothing(alice, bad):
    before = AuditEvent.objects.count()
    response = api(alice, "data", path=bad)
    assert response.status_code == 400 and response.json()["detail"]
    assert AuditEvent.objects.count() == before


def test_api_answers_400_to_a_bad_at_and_404_to_an_unknown_snapshot(alice):
    assert api(alice, "data", path="Documents/notes.txt", at="yesterday").status_code == 400
    assert api(alice, "data", path="Documents/notes.txt", at="@GMT-1999.01.01-00.00.00").status_code == 404


def test_bobs_files_are_404_for_alice_and_names_do_not_leak(settings, sign_in):
    settings.USER_ROOTS = settings.USER_ROOTS + ";bobs=\\\\127.0.0.1\\data\\bob"
    alice = sign_in("alice")
    for root, path in (("bobs", "Documents/bob-notes.txt"), ("bobs", "Documents/Secret Plans.docx"),
                       ("bob", "Documents/bob-notes.txt"), ("data", "../bob/Documents/bob-notes.txt")):
        response = api(alice, root, path=path)
        assert response.status_code in (404, 400) and (response.status_code == 404) == (".." not in path)
        assert b"Secret" not in response.content and b"bob-notes" not in response.content
    denied = AuditEvent.objects.filter(actor_username="alice", action="access_denied")
    assert denied.count() == 2 and all(e.details["operation"] == "related" for e in denied)


def test_page_lists_the_bundle_with_their_reasons_and_nothing_to_tick(testenv, alice):
    t1 = generation(testenv, "data", T1)
    page = alice.get("/roots/data/related", {"path": "Pictures/IMG_0001.jpg", "at": t1.token})
    assert page.status_code == 200
    html = page.content.decode()
    photo = next(r for r in related.builtin_rules() if r.name == "photo-sidecars")
    for path in ("Pictures\\IMG_0001.xmp", "Pictures\\IMG_0001.thm"):
        item = html.split(path)[1].split("</li>")[0]
        assert photo.reason in item and "Not restored" not in item
    assert 'type="checkbox"' not in html  # leaving files out is the restore dialog's, which acts on it
    assert alice.get("/roots/data/related", {"path": "../bob"}).status_code == 400
    assert alice.get("/roots/data/related", {"path": "Documents/no-such.txt"}).status_code == 404


def test_timeline_page_loads_the_related_files_of_any_snapshot_with_htmx(testenv, alice):
    html = alice.get("/roots/profile/file", {"path": f"{FF}/places.sqlite"}).content.decode()
    assert "Related files" in html and 'hx-get="/roots/profile/related"' in html
    assert f'name="path" value="{FF}/places.sqlite"' in html
    # places.sqlite is the same at T3 and now (one timeline row) while its WAL is not: T3 is offered
    assert f'<option value="{generation(testenv, "profile", T3).token}">' in html


# --- rules from the administrators ---------------------------------------------------------------


def test_a_rule_file_overrides_a_built_in_by_name(testenv, alice_subject, settings, tmp_path):
    token, roots = alice_subject
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "photo-sidecars"\napplication = "Darktable"\nroot = "data"\n'
                     'match = "**/*.jpg"\nsidecars = ["xmp"]\nreason = "Darktable keeps edits in the .xmp."\n')
    settings.RELATED_RULES_FILE = str(rules)
    found = bundles.bundle(token, roots["data"], "Pictures\\IMG_0001.jpg", generation(testenv, "data", T1))
    photo = [i for i in found.related if i.rule == "photo-sidecars"]
    assert [(i.key, i.application, i.reason) for i in photo] == [
        ("Pictures/IMG_0001.xmp", "Darktable", "Darktable keeps edits in the .xmp.")]


def test_an_invalid_rule_file_is_a_configuration_error_naming_the_rule(settings, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "broken-one"\napplication = "X"\nmatch = "**/*.x"\n'
                     'siblings = ["{nmae}.y"]\nreason = "Y."\n')
    settings.RELATED_RULES_FILE = str(rules)
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=r"broken-one.*\{nmae\}"):
        related.catalog()


@pytest.fixture
def admin_client(django_user_model):
    """A local superuser in the Django admin, on a client of its own (the standard client is alice's)."""
    from django.test import Client

    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("portal-admin", "admin@example.test", "x" * 20))
    return admin


RULE_FORM = {"name": "notes-with-minutes", "enabled": "on", "application": "Meetings", "roots": "data",
             "reason": "The minutes say what the notes are about.", "match": "Documents/notes.txt",
             "siblings": "meeting-minutes.txt", "sidecars": "", "folders": "", "anchor": "", "config_set": ""}


def test_an_administrator_adds_a_rule_in_the_admin_and_bundles_use_it(admin_client, alice_subject):
    token, roots = alice_subject
    response = admin_client.post("/admin/restore/relatedrule/add/", RULE_FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert RelatedRule.objects.filter(name="notes-with-minutes").exists()
    change = AuditEvent.objects.get(action="config_change", actor_username="portal-admin")
    assert (change.details["model"], change.details["object"]) == ("restore.relatedrule", "notes-with-minutes")
    found = bundles.bundle(token, roots["data"], "Documents\\notes.txt", None)
    (minutes,) = [i for i in found.related if i.rule == "notes-with-minutes"]
    assert (minutes.key, minutes.reason, minutes.included) == (
        "Documents/meeting-minutes.txt", "The minutes say what the notes are about.", True)


def test_the_admin_refuses_an_invalid_rule_and_says_why(admin_client):
    response = admin_client.post("/admin/restore/relatedrule/add/", RULE_FORM | {"siblings": "../elsewhere.txt"})
    assert response.status_code == 200
    assert "notes-with-minutes" in response.content.decode() and "must be a name in the same folder" in \
        response.content.decode()
    assert not RelatedRule.objects.exists()


def test_an_administrator_switches_a_built_in_rule_off(alice_subject):
    token, roots = alice_subject
    RelatedRule.objects.create(name="folder-desktop-ini", enabled=False)
    found = bundles.bundle(token, roots["data"], "Desktop\\todo.txt", None)
    assert "Desktop/desktop.ini" not in keys(found.related)
