"""Profile containers as roots, against the real fslogix share (scripts/testenv_fslogix.py): browse,
timeline, preview, compare, related files and the NTFS ACLs inside, through the API and the pages,
as alice, bob, carol and helpdesk1 would try them.

The share has three back-dated snapshots (T1 = 21, T2 = 7, T3 = 1 day ago): alice's notes.txt gains
a line at each and live, T2 deletes Documents\\Old Project, T3 deletes report.docx. The oracle for
what is inside is the container read straight from the snapshot's copy on the server's disk.
"""

from __future__ import annotations

import pytest

from restore import smb
from restore.accounts.identity import look_up
from restore.versions import containers
from restore.versions.container_client import ContainerClient, forget_all
from restore.versions.container_roots import ContainerUnreadable
from restore.versions.roots import location

pytestmark = [pytest.mark.django_db, pytest.mark.samba, pytest.mark.containers]

NOTES = ["Notes\n", "- call the bank\n", "- book the venue\n", "- send invoices\n", "- lunch\n"]


@pytest.fixture(autouse=True)
def _fresh_containers():
    forget_all()  # "a snapshot not read before" in every test
    yield
    forget_all()


def api(client, root, what, **params):
    return client.get(f"/api/v1/roots/{root}/{what}", params)


def snapshots(client, root="profile-container") -> list[str]:
    """The root's snapshots, oldest first (T1, T2, T3 are the first three)."""
    answer = api(client, root, "snapshots")
    assert answer.status_code == 200, answer.content
    return [s["id"] for s in reversed(answer.json())]


def names(client, root, path, at="") -> dict[str, dict]:
    answer = api(client, root, "entries", path=path, at=at)
    assert answer.status_code == 200, answer.content
    return {e["name"]: e for e in answer.json()["entries"]}


def container_on_disk(testenv, who: str, token: str | None, name: str | None = None):
    base = testenv.snapdir("fslogix") / token if token else testenv.share_path("fslogix")
    (folder,) = [p for p in base.iterdir() if p.name.endswith("_" + who)]
    return folder / (name or f"Profile_{who}.vhdx")


def test_alices_roots_include_her_profile_and_office_containers_in_fslogix_layout(alice):
    roots = {r["kind"]: r for r in alice.get("/api/v1/roots").json()}
    me = alice.get("/api/v1/me").json()
    assert roots["profile-container"]["unc"] == f"\\\\127.0.0.1\\fslogix\\{me['sid']}_alice\\Profile_alice.vhdx"
    assert roots["office-container"]["unc"] == f"\\\\127.0.0.1\\fslogix\\{me['sid']}_alice\\ODFC_alice.vhdx"


def test_a_container_root_starts_at_its_profile_folder_and_lists_each_snapshot_as_it_was(testenv, alice):
    t1, t2, t3 = snapshots(alice)[:3]
    top = names(alice, "profile-container", "", t1)
    assert {"Documents", "Desktop", "Pictures", "AppData", "NTUSER.DAT"} <= set(top)
    old = names(alice, "profile-container", "Documents", t1)
    assert {"notes.txt", "report.docx", "Old Project", "setup.pdf"} <= set(old)
    assert old["Old Project"]["kind"] == "folder" and old["Old Project"]["exists_live"] is False
    assert old["report.docx"]["exists_live"] is False and old["notes.txt"]["exists_live"] is True
    assert "Old Project" not in names(alice, "profile-container", "Documents", t2)
    assert "meeting-minutes.txt" in names(alice, "profile-container", "Documents", t2)
    assert "report.docx" not in names(alice, "profile-container", "Documents", t3)
    with open(container_on_disk(testenv, "alice", t1), "rb") as fh, containers.open_container(fh) as c:
        on_disk = {e.name: e for e in c.list_dir("Profile\\Documents")}
    assert old["report.docx"]["size"] == on_disk["report.docx"].size


def test_the_ntfs_acl_inside_the_container_decides_a_file_granted_only_to_bob_is_hidden(alice):
    t1 = snapshots(alice)[0]
    assert "for-bob-only.txt" not in names(alice, "profile-container", "Documents", t1)
    for what in ("content", "versions"):
        answer = api(alice, "profile-container", what, path="Documents/for-bob-only.txt", at=t1)
        assert answer.status_code == 404, (what, answer.content)


def test_timeline_preview_and_download_of_a_file_inside_the_container(alice):
    t1, t2, t3 = snapshots(alice)[:3]
    rows = api(alice, "profile-container", "versions", path="Documents/notes.txt").json()["versions"]
    assert [r["size"] for r in rows] == [len("".join(NOTES[:n])) for n in (5, 4, 3, 2)]
    assert rows[0]["live"] and [r["snapshots"][-1] for r in rows[1:]] == [t3, t2, t1]
    for lines, at in zip((2, 3, 4), (t1, t2, t3)):
        answer = api(alice, "profile-container", "content", path="Documents/notes.txt", at=at)
        assert answer.status_code == 200
        assert b"".join(answer.streaming_content).decode() == "".join(NOTES[:lines])
    page = alice.get("/roots/profile-container/file", {"path": "Documents/notes.txt", "diff": t1})
    assert page.status_code == 200
    assert b"book the venue" in page.content and b"lunch" in page.content  # added since T1


def test_the_office_container_is_a_root_of_its_own(alice):
    t1 = snapshots(alice, "office-container")[0]
    assert {"Outlook", "OneNote"} <= set(names(alice, "office-container", "", t1))


def test_bob_never_sees_alices_container(alice, bob):
    alice_unc = {r["kind"]: r for r in alice.get("/api/v1/roots").json()}["profile-container"]["unc"]
    bobs = {r["kind"]: r for r in bob.get("/api/v1/roots").json()}
    assert bobs["profile-container"]["unc"].endswith("_bob\\Profile_bob.vhdx") and bobs["profile-container"]["unc"] != alice_unc
    t1 = snapshots(bob)[0]
    listing = names(bob, "profile-container", "Documents", t1)
    assert "bob-notes.txt" in listing and "notes.txt" not in listing
    answer = api(bob, "profile-container", "content", path="../alice/Documents/notes.txt", at=t1)
    assert answer.status_code == 400


def test_carols_differencing_disk_is_read_with_its_parent(carol):
    t1, t2 = snapshots(carol)[:2]
    desktop = names(carol, "profile-container", "Desktop", t1)
    assert "diff-only.txt" in desktop  # only in RW.vhdx, the child
    for at, text in ((t1, "carol's notes, edited in this session\n"), (t2, "carol's notes, second session\n")):
        answer = api(carol, "profile-container", "content", path="Documents/carol-notes.txt", at=at)
        assert answer.status_code == 200 and b"".join(answer.streaming_content).decode() == text
    names(carol, "profile-container", "", t1)  # the parent's folders are there too
    assert "NTUSER.DAT" in names(carol, "profile-container", "", t1)


@pytest.mark.parametrize("who, reason", [("helpdesk1", "BitLocker"), ("admin1", "damaged")])
def test_an_unreadable_container_says_why_and_nothing_else_breaks(signed_in, who, reason):
    client = signed_in(who)
    t1 = snapshots(client)[0]
    answer = api(client, "profile-container", "entries", path="", at=t1)
    assert answer.status_code == 400, answer.content
    assert reason in answer.json()["detail"] and "profile container" in answer.json()["detail"]
    page = client.get("/roots/profile-container/", {"at": t1})
    assert page.status_code == 400 and reason.encode() in page.content


def test_a_container_without_ntfs_says_so_to_its_owner(testenv):
    """auditor1 may not browse files in the portal; what the reader tells its owner is checked below the views."""
    view = look_up("auditor1")
    root = next(r for r in view.roots if r.kind == "profile-container")
    client = ContainerClient(root, view.token)
    where = location(root)
    first = min(client.enumerate_snapshots(where.share))
    with pytest.raises(ContainerUnreadable) as caught:
        client.list_dir(where.share, where.path, at=first.at)
    assert caught.value.reason == "not-ntfs" and "no NTFS" in str(caught.value)
    alice = look_up("alice")  # someone else's container does not exist for her, whatever its state
    with pytest.raises(smb.NotFound):
        ContainerClient(root, alice.token).list_dir(where.share, where.path, at=first.at)


# --- related files inside containers: one case per application rule (restore/related/related_rules.toml) --

ROAMING, LOCAL = "AppData/Roaming", "AppData/Local"
TEAMS = f"{LOCAL}/Packages/MSTeams_8wekyb3d8bbwe/LocalCache/Microsoft/MSTeams"
TERMINAL = f"{LOCAL}/Packages/Microsoft.WindowsTerminal_8wekyb3d8bbwe/LocalState"
THUNDERBIRD = f"{ROAMING}/Thunderbird/Profiles/q7r2.default-release"
JETBRAINS = f"{ROAMING}/JetBrains/PyCharm2024.3"
ACROBAT = f"{ROAMING}/Adobe/Acrobat/DC"
FIREFOX = f"{ROAMING}/Mozilla/Firefox/Profiles/k3x9.default-release"


CONTAINER_CASES = [  # (root, chosen file, rule, what it must pull); tests/integration/related/test_bundles.py counts them
    ("profile-container", f"{THUNDERBIRD}/prefs.js", "thunderbird-profile",
     {f"{THUNDERBIRD}/{n}" for n in ("abook.sqlite", "logins.json", "key4.db", "cert9.db")}),
    ("profile-container", f"{TEAMS}/app_settings.json", "teams-settings", {f"{TEAMS}/Backgrounds/Uploads"}),
    ("profile-container", f"{TERMINAL}/settings.json", "windows-terminal", {f"{TERMINAL}/state.json"}),
    ("profile-container", "Desktop/Passwords.kdbx", "keepass-database", {"Desktop/Passwords.keyx"}),
    ("profile-container", f"{JETBRAINS}/options/editor.xml", "jetbrains-settings",
     {f"{JETBRAINS}/keymaps", f"{JETBRAINS}/codestyles"}),
    ("profile-container", f"{ACROBAT}/Security/addressbook.acrodata", "acrobat-settings", {f"{ACROBAT}/Stamps"}),
    ("office-container", "OneNote/16.0/cache/00000001.bin", "onenote-cache", {"OneNote/16.0/cache/00000002.bin"}),
    ("profile-container", f"{FIREFOX}/places.sqlite", "firefox-profile", {f"{FIREFOX}/prefs.js"}),  # a roaming rule
    ("profile-container", f"{FIREFOX}/places.sqlite", "sqlite-journal", {f"{FIREFOX}/places.sqlite-wal"}),
]


@pytest.mark.parametrize("root, chosen, rule, expected", CONTAINER_CASES, ids=[c[2] for c in CONTAINER_CASES])
def test_application_rules_pull_related_files_from_inside_the_container(alice, root, chosen, rule, expected):
    t1 = snapshots(alice, root)[0]
    answer = api(alice, root, "related", path=chosen, at=t1)
    assert answer.status_code == 200, answer.content
    pulled = {r["path"] for r in answer.json()["related"] if r["included"] and r["rule"] == rule}
    assert pulled == expected
