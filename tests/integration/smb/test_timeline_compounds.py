"""A timeline's compounds packed and parsed with struct (restore/smb/packed.py) and sent, signed and
read on the fast path (fastpath.send_chain), against Samba.

The oracle is the same questions asked the old way: CREATE(TWrp) + QUERY_INFO(security) + CLOSE
built as smbprotocol structures, sent and unpacked by smbprotocol; and, for what people see, the
timeline answered with the fast path switched off (the fallback an encrypted session takes).

History of ``T\\f.txt`` in the module's scratch area, oldest first:
  s1  absent
  s2  "v1", alice full control, bob may read
  s3  "v1", bob removed from the ACL (an ACL change, the content unchanged)
  s4  "version two"
  s5  "version two" with an owner-only ACL: the portal may not read its descriptor (hidden)
  live  "three, live", alice and bob again
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from smbprotocol.open import SMB2CreateResponse, SMB2QueryInfoResponse

from restore import smb
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor
from restore.smb import client as client_module
from restore.smb import fastpath, packed, wire
from restore.smb import pool as pool_module
from tests.support.scratch import DACL_AND_OWNER, FULL, READ, SERVER, SHARE, ScratchArea, give_root

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

FILE = "T\\f.txt"
NOT_FOUND = 0xC0000034  # STATUS_OBJECT_NAME_NOT_FOUND


@pytest.fixture(scope="module")
def area(testenv):
    area = ScratchArea(testenv, prefix="timeline").create()
    try:
        area.mkdir("T")
        area.snapshot("-5 hours")
        area.write(FILE, b"v1\n", age=timedelta(days=3))
        area.set_acl(FILE, {"alice": FULL, "bob": READ})
        area.snapshot("-4 hours")
        area.set_acl(FILE, {"alice": FULL})
        area.snapshot("-3 hours")
        area.write(FILE, b"version two\n", age=timedelta(days=2))
        area.snapshot("-2 hours")
        alice = area.sids["alice"]
        owner_only = SecurityDescriptor(owner=alice, group=None, dacl=(Ace(0x00, 0, FULL, alice),),
                                        control=0x8004 | 0x1000)
        area.alice.set_security_descriptor(SHARE, area.path(FILE), build_security_descriptor(owner_only),
                                           info=DACL_AND_OWNER)
        area.snapshot("-1 hour")
        area.delete(FILE)
        area.write(FILE, b"three, live\n", age=timedelta(days=1))
        area.set_acl(FILE, {"alice": FULL, "bob": READ})
        yield area
    finally:
        area.remove()


def times(area) -> list:
    return [smb.Snapshot.from_token(t).at for t in area.snapshots] + [None]


def the_old_way(svc: smb.Client, path: str, ats: list) -> dict:
    """{at: (entry, descriptor)} from smbprotocol's own structures, sent and unpacked by it."""
    def run(ex: wire.Exchange) -> dict:
        compounds = [[wire.create(path, access=client_module.SD_ACCESS | wire.SYNCHRONIZE, at=at,
                                  options=svc.read_options()),
                      wire.security_query(client_module.OWNER_GROUP_DACL), wire.close()] for at in ats]
        found = {}
        for at, (opened, sd, _closed) in zip(ats, ex.pipeline(compounds)):
            assert not isinstance(opened.header, fastpath.Answer)  # smbprotocol's path
            found[at] = (_old_entry(opened, path), _old_descriptor(opened, sd))
        return found

    return svc._run(SHARE, run, path=path, action="timeline the old way")


def _meaning(status: int):
    if status == NOT_FOUND:
        return None
    assert status == 0xC0000022, hex(status)  # STATUS_ACCESS_DENIED: the portal may not read it
    return smb.UNREADABLE


def _old_entry(opened: wire.Reply, path: str):
    if not opened.ok:
        return _meaning(opened.status)
    r = SMB2CreateResponse()
    r.unpack(opened.data)
    attributes = r["file_attributes"].get_value()
    return smb.Entry(name=wire.name_of(path), is_dir=bool(attributes & 0x10), size=r["end_of_file"].get_value(),
                     last_write=r["last_write_time"].get_value(), created=r["creation_time"].get_value(),
                     changed=r["change_time"].get_value(), attributes=attributes,
                     last_access=r["last_access_time"].get_value())


def _old_descriptor(opened: wire.Reply, sd: wire.Reply):
    for reply in (opened, sd):
        if not reply.ok:
            return _meaning(reply.status)
    r = SMB2QueryInfoResponse()
    r.unpack(sd.data)
    return r["buffer"].get_value()


def test_the_packed_compounds_answer_exactly_what_smbprotocols_structures_do(area, svc):
    ats = times(area)
    fast = svc.timeline_at_many(SHARE, area.path(FILE), ats)
    assert fast == the_old_way(svc, area.path(FILE), ats)
    s1, s2, s3, s4, s5, live = (fast[at] for at in ats)
    assert s1 == (None, None)  # absent then: the CREATE failed, and so did the rest of its compound
    assert s2[0].size == s3[0].size == len(b"v1\n") and s2[1] != s3[1]  # same file, another ACL
    assert s4[0].size == len(b"version two\n") and s5[0] is smb.UNREADABLE and s5[1] is smb.UNREADABLE
    assert live[0].size == len(b"three, live\n") and live[1].startswith(b"\x01\x00")
    on_disk = area.disk(FILE, area.snapshots[1]).stat().st_mtime_ns // 1000
    assert s2[0].last_write == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=on_disk)


def test_a_failed_create_fails_its_whole_compound_and_leaves_nothing_waiting(area):
    smb.reset_pool()  # a new connection of our own (an earlier test may have left an encrypted session pooled)
    ex = smb.client_for(SERVER)._exchange(SHARE)
    at = smb.Snapshot.from_token(area.snapshots[0]).at
    def failing():
        return ex.call(packed.create(area.path(FILE), access=client_module.SD_ACCESS, at=at),
                       packed.query_security(client_module.OWNER_GROUP_DACL), packed.close())

    for _ in range(2):  # a new connection's very first answers too are taken on the fast path
        replies = failing()
        assert all(isinstance(r.header, fastpath.Answer) for r in replies)
        assert [r.status for r in replies] == [NOT_FOUND] * 3  # QUERY_INFO and CLOSE answer the chained error
    assert not [r for r in ex.connection.outstanding_requests.values() if isinstance(r, fastpath.Pending)]


def test_a_server_granting_fewer_credits_than_snapshots_gets_them_within_its_window(area, svc, monkeypatch):
    """No credit warm-up and no extra credits asked: the connection keeps the few credits Samba grants
    a new session, fewer than the compounds of 60 points in time need. Each compound waits for
    answers to bring credits back; none is sent beyond the window."""
    monkeypatch.setattr(pool_module, "CREDIT_TARGET", 0)
    monkeypatch.setattr(fastpath, "CREDIT_GOAL", 0)
    smb.reset_pool()
    try:
        expected = the_old_way(svc, area.path(FILE), times(area))
        connection = svc.pool.connection_for(SERVER, svc.options)
        window = connection.sequence_window
        credits = window["high"] - window["low"]
        oldest = smb.Snapshot.from_token(area.snapshots[0]).at
        ats = times(area) + [oldest - timedelta(hours=h) for h in range(1, 61 - len(area.snapshots))]
        assert 3 * len(ats) > 2 * credits, f"the connection has {credits} credits"
        in_flight = []
        send_chain = fastpath.send_chain

        def counting(conn, session, tree_id, messages):
            waiting = sum(1 for r in list(conn.outstanding_requests.values())  # sent, not answered yet
                          if isinstance(r, fastpath.Pending) and r.response is None)
            in_flight.append(waiting + len(messages))
            return send_chain(conn, session, tree_id, messages)

        monkeypatch.setattr(fastpath, "send_chain", counting)
        found = svc.timeline_at_many(SHARE, area.path(FILE), ats)
        assert len(in_flight) == len(ats) and max(in_flight) <= credits
        assert {at: found[at] for at in expected} == expected
        assert all(found[at] == (None, None) for at in ats[len(expected):])  # before the area existed
    finally:
        smb.reset_pool()


def test_an_encrypted_session_sends_the_same_compounds_through_smbprotocol(area, svc, settings):
    expected = svc.timeline_at_many(SHARE, area.path(FILE), times(area))
    settings.SMB_ENCRYPT = True
    try:
        encrypted = smb.client_for(SERVER)
        assert encrypted.timeline_at_many(SHARE, area.path(FILE), times(area)) == expected
        assert encrypted.pool.tree(SERVER, SHARE, encrypted.credentials, encrypted.options).session.encrypt_data
    finally:
        smb.reset_pool()  # the encrypted session is not left for the tests that follow


def visible(client, area) -> tuple[list, int]:
    response = client.get("/api/v1/roots/scratch/versions", {"path": FILE.replace("\\", "/")})
    assert response.status_code == 200, response.content
    body = response.json()
    return [(r["live"], r["snapshots"]) for r in body["versions"]], body["hidden"]["count"]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_people_see_the_same_versions_with_and_without_the_fast_path(signed_in, area, who, monkeypatch):
    client = signed_in(who)
    give_root(who, area)
    s1, s2, s3, s4, s5 = area.snapshots
    rows, hidden = visible(client, area)
    if who == "alice":
        assert rows == [(True, []), (False, [s4]), (False, [s3, s2])]
    else:  # bob was removed from the ACL at s3: only the first version and the live one
        assert rows == [(True, []), (False, [s2])]
    assert hidden == 1  # s5: the portal may not read its permissions
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(fastpath, "usable", lambda connection, session: False)
    assert visible(client, area) == (rows, hidden)
