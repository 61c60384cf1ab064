"""Search inside profile containers, against the real fslogix share (scripts/testenv_fslogix.py): each
container found on the share is a catalog source of its own, built by the same builder (reading the
container through the service account's ContainerClient), searched by the same query, with the
container file's share ACL and the NTFS ACLs inside deciding what a person sees.

The share's history (the oldest three snapshots, T1 < T2 < T3): alice's Documents\\report.docx is
deleted at T3, Documents\\Old Project at T2; Documents\\for-bob-only.txt is granted only to bob inside
alice's container; helpdesk1's container is BitLocker-encrypted, admin1's is cut off (corrupt).
"""

from __future__ import annotations

import pytest

from restore.accounts import identity
from restore.catalog import build, containers, search, sources
from restore.catalog.logic import parse_query
from restore.catalog.rows import sd_hash, store_sd
from restore.models.catalog import (
    CatalogEntry,
    CatalogSecurityDescriptor,
    CatalogSnapshot,
    CatalogSource,
    CatalogVersion,
    SnapshotState,
)
from restore.nt.access import FILE_ALL_ACCESS
from restore.nt.constants import ACCESS_ALLOWED_ACE_TYPE
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor, parse_security_descriptor
from restore.versions.container_client import forget_all
from tests.support.acting import acting_helpdesk1

pytestmark = [pytest.mark.django_db, pytest.mark.samba, pytest.mark.containers]


@pytest.fixture(autouse=True)
def _fresh_containers():
    forget_all()
    yield
    forget_all()


def discovered() -> dict[tuple[str, str], CatalogSource]:
    """{(username, kind): source} for every container folder of the share, as the refresh registers them."""
    return {(s.path.split("\\")[0].rpartition("_")[2], s.kind): s for s in containers.discover()}


def built(*whose: str, kind: str = "profile-container") -> dict[tuple[str, str], CatalogSource]:
    found = discovered()
    for who in whose:
        outcome = build.build_source(found[(who, kind)].id)
        assert not outcome.error and not outcome.busy, outcome
    return found


@pytest.fixture
def history(testenv) -> list[str]:
    """T1, T2, T3: the share's oldest three snapshots (tests elsewhere may add newer ones)."""
    return sorted(p.name for p in testenv.snapdir("fslogix").iterdir() if p.name.startswith("@GMT-"))[:3]


def find(client, q, **params) -> dict:
    response = client.get("/api/v1/search", {"q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()


def hits(answer: dict) -> dict:
    return {(r["root"], r["path"]): r for r in answer["results"]}


def as_search(username: str, q: str, *, roots_of: str | None = None) -> search.Results:
    """search.search with ``username``'s token over ``roots_of``'s container root (a root that holds
    someone else's container: only the ACLs can keep it out)."""
    token = identity.look_up(username).token
    root = next(r for r in identity.look_up(roots_of or username).roots if r.kind == "profile-container")
    return search.search(token, [root], parse_query(q))


def test_each_container_on_the_share_is_a_source_of_its_own_and_the_share_itself_is_not(testenv):
    found = discovered()
    alice = identity.look_up("alice")
    me = found[("alice", "profile-container")]
    assert me.path == f"{alice.person.sid}_alice\\Profile_alice.vhdx" and (me.server, me.share) == ("127.0.0.1",
                                                                                                   "fslogix")
    assert found[("alice", "office-container")].path.endswith("\\ODFC_alice.vhdx")
    assert {who for who, _ in found} >= {"alice", "bob", "carol", "helpdesk1", "auditor1", "admin1"}
    assert ("127.0.0.1", "fslogix", "") not in {(u.server, u.share, u.path) for u in sources.configured_uncs()}
    assert {s.id for s in found.values()} <= {s.id for s in sources.ensure_configured()}
    assert len(discovered()) == len(found)  # registered once: the refresh finds the same sources again


def test_alice_finds_a_file_deleted_from_her_container_in_the_snapshots_that_held_it(alice, history):
    built("alice")
    t1, t2, t3 = history
    hit = hits(find(alice, "report.docx"))[("profile-container", "Documents/report.docx")]
    assert hit["kind"] == "file" and hit["exists_live"] is False
    assert [v["snapshots"] for v in hit["versions"]] == [[t2, t1]]
    assert hit["url"] == "/roots/profile-container/file?path=Documents%2Freport.docx"
    timeline = alice.get("/api/v1/roots/profile-container/versions", {"path": "Documents/report.docx"})
    assert timeline.status_code == 200  # the link leads to the file's timeline, read from the container
    page = alice.get("/search/", {"q": "report.docx"}).content.decode()
    assert 'href="/roots/profile-container/file?path=Documents%2Freport.docx"' in page and "deleted since" in page
    folder = hits(find(alice, "Old Project", root="profile-container"))[("profile-container", "Documents/Old Project")]
    assert folder["kind"] == "folder" and folder["exists_live"] is False and folder["last_seen"] == t1
    notes = hits(find(alice, "notes.txt", root="profile-container"))[("profile-container", "Documents/notes.txt")]
    assert notes["exists_live"] is True and len(notes["versions"]) >= 3  # a new line at each of T1, T2, T3
    coverage = find(alice, "notes.txt", root="profile-container")["coverage"][0]
    assert coverage["catalogued"] and coverage["snapshots"] >= 3 and coverage["pending"] == 0


def test_bob_searching_the_same_names_finds_nothing_of_alices(bob, history):
    built("alice", "bob")
    answer = find(bob, "report.docx")
    assert answer["results"] == [] and answer["hidden"]["count"] == 0
    assert {r["path"] for r in find(bob, "notes")["results"]} <= {"Documents/bob-notes.txt"}
    for q in ("report.docx", "notes.txt", "*.docx", "Old Project"):  # even over a root on alice's container
        results = as_search("bob", q, roots_of="alice")
        assert results.hits == [] and results.hidden == 0, q


def test_only_snapshots_in_which_alice_may_open_her_container_file_show_what_was_inside(alice, history):
    """The container file's share ACL, as catalogued per snapshot, is checked before anything inside:
    here it is made bob's alone at T1 (the NTFS ACLs inside still grant alice)."""
    t1, t2, _ = history
    source = built("alice")[("alice", "profile-container")]
    index = CatalogSnapshot.objects.get(source=source, token=t1).index
    _, rows = containers.gate(source)
    (version_id, _, _, sd_id), = [r for r in rows if r[1] == index]
    assert [r for r in rows if r[1] <= index and (r[2] is None or index <= r[2])] == [(version_id, index, index, sd_id)]
    theirs = parse_security_descriptor(bytes(CatalogSecurityDescriptor.objects.get(id=sd_id).data))
    bob = identity.look_up("bob").person.sid
    data = build_security_descriptor(SecurityDescriptor(theirs.owner, theirs.group, (
        Ace(ACCESS_ALLOWED_ACE_TYPE, 0, FILE_ALL_ACCESS, bob),), theirs.control))
    CatalogVersion.objects.filter(id=version_id).update(sd_id=store_sd(sd_hash(data), data))
    hit = hits(find(alice, "report.docx"))[("profile-container", "Documents/report.docx")]
    assert [v["snapshots"] for v in hit["versions"]] == [[t2]]
    answer = find(alice, "Old Project")  # only ever in T1
    assert answer["results"] == [] and answer["hidden"]["count"] == 0


def test_a_file_inside_granted_only_to_another_sid_is_not_found_by_alice(alice, history):
    built("alice")
    assert find(alice, "for-bob-only")["results"] == []
    assert CatalogEntry.objects.filter(path__iendswith="\\Documents\\for-bob-only.txt").exists()  # catalogued
    assert as_search("bob", "for-bob-only", roots_of="alice").hits == []  # bob may not open alice's container


def test_the_helpdesk_acting_for_alice_finds_it_with_her_rights(helpdesk1, history, settings):
    built("alice")
    t1, t2, _ = history
    assert find(helpdesk1, "report.docx")["results"] == []  # with their own roots and token
    acting = acting_helpdesk1(helpdesk1)
    hit = hits(find(acting, "report.docx"))[("profile-container", "Documents/report.docx")]
    assert [v["snapshots"] for v in hit["versions"]] == [[t2, t1]]
    assert find(acting, "for-bob-only")["results"] == []
    settings.HELPDESK_CONTENT_BLIND = True  # content-blind: names are found, contents stay closed
    assert hits(find(acting, "report.docx"))[("profile-container", "Documents/report.docx")]
    content = acting.get("/api/v1/roots/profile-container/content", {"path": "Documents/report.docx", "at": t1})
    assert content.status_code == 403


def test_the_office_container_is_searched_as_a_root_of_its_own(alice):
    built("alice", kind="office-container")
    found = hits(find(alice, "*.ost", root="office-container"))
    assert found and all(root == "office-container" for root, _ in found)


def test_unreadable_containers_say_why_and_break_neither_other_sources_nor_the_search(signed_in, history, client,
                                                                                    django_user_model):
    found = discovered()
    for who in ("helpdesk1", "admin1", "alice"):
        outcome = build.build_source(found[(who, "profile-container")].id)
        assert not outcome.error and not outcome.busy, (who, outcome)
    for who, why in (("helpdesk1", "BitLocker"), ("admin1", "damaged")):
        source = CatalogSource.objects.get(id=found[(who, "profile-container")].id)
        snaps = CatalogSnapshot.objects.filter(source=source, token__in=history)
        assert {s.state for s in snaps} == {SnapshotState.DONE} and not any(s.complete for s in snaps)
        assert all(why in s.error for s in snaps) and why in source.last_error
        answer = find(signed_in(who), "notes")
        assert answer["results"] == []
    assert as_search("alice", "report.docx").hits  # the others were built all the same
    client.force_login(django_user_model.objects.create_superuser("root-admin", "", "a-long-admin-password-1"))
    page = client.get(f"/admin/restore/catalogsource/{found[('admin1', 'profile-container')].id}/change/")
    assert page.status_code == 200 and "damaged" in page.content.decode() and "profile-container" in page.content.decode()


def test_a_container_unchanged_since_the_previous_snapshot_is_not_read_again_and_the_catalog_is_the_same(
        monkeypatch, history, bob):
    """bob's container was last written before T1: T2 and T3 carry T1's folders forward without
    opening it; alice's changes at every snapshot and is read at each. Either way the rows equal a
    build that reads every snapshot."""
    listed: list[tuple[str, str]] = []
    list_dir = containers.ServiceReader.list_dir

    def counting(self, share, path, at=None):
        listed.append((self.base.path.split("\\")[0].rpartition("_")[2], at))
        return list_dir(self, share, path, at)

    monkeypatch.setattr(containers.ServiceReader, "list_dir", counting)
    found = built("alice", "bob")
    at = {token: CatalogSnapshot.objects.get(source=found[("bob", "profile-container")], token=token).at
          for token in history}
    t1, t2, t3 = history
    assert {when for who, when in listed if who == "bob"} & {at[t2], at[t3]} == set()
    assert {when for who, when in listed if who == "alice"} >= {at[t1], at[t2], at[t3]}

    def dump(source) -> list[tuple]:
        tokens = dict(CatalogSnapshot.objects.filter(source=source).values_list("index", "token"))
        return sorted((path, is_dir, tokens[first], tokens.get(last), size, last_write, sha)
                      for path, is_dir, first, last, size, last_write, sha in CatalogVersion.objects.filter(
                          entry__source=source).values_list("entry__path", "entry__is_dir", "first_idx", "last_idx",
                                                            "size", "last_write", "sd__sha256"))

    for who in ("alice", "bob"):
        source = found[(who, "profile-container")]
        skipping = dump(source)
        assert all(s.complete for s in CatalogSnapshot.objects.filter(source=source, token__in=history))
        build.reset(source)
        monkeypatch.setattr(containers.ContainerSnapshotBuild, "_unchanged", lambda self, gate, children: False)
        assert not build.build_source(source.id).error
        monkeypatch.undo()
        assert dump(source) == skipping, who
    bob_notes = hits(find(bob, "bob-notes"))[("profile-container", "Documents/bob-notes.txt")]
    assert bob_notes["versions"][0]["snapshots"][-3:] == [t3, t2, t1]


def test_a_file_only_in_a_differencing_disk_is_found_with_its_parent_read_too(carol, history):
    built("carol")
    t1 = history[0]
    answer = find(carol, "*.txt", root="profile-container")
    found = hits(answer)
    assert t1 in found[("profile-container", "Desktop/diff-only.txt")]["versions"][-1]["snapshots"]  # in RW.vhdx
    assert ("profile-container", "Documents/carol-notes.txt") in found
    assert len(found[("profile-container", "Documents/carol-notes.txt")]["versions"]) >= 2  # changed at T2
    assert ("profile-container", "NTUSER.DAT") in hits(find(carol, "NTUSER.DAT", root="profile-container"))
