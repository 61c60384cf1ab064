"""The search's access decisions, cached per (SD sha256, token, file or folder)."""

import hashlib

from restore.catalog import search
from restore.nt.access import FILE_ALL_ACCESS, Token
from restore.nt.constants import ACCESS_ALLOWED_ACE_TYPE
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor

ALICE = Token("S-1-5-21-1-2-3-1104", frozenset({"S-1-5-21-1-2-3-513", "S-1-1-0"}))
BOB = Token("S-1-5-21-1-2-3-1105", frozenset({"S-1-5-21-1-2-3-513", "S-1-1-0"}))


def sd_for(sid: str) -> tuple[str, bytes]:
    data = build_security_descriptor(SecurityDescriptor(
        "S-1-5-32-544", "S-1-5-32-544", (Ace(ACCESS_ALLOWED_ACE_TYPE, 0, FILE_ALL_ACCESS, sid),), 0x8004))
    return hashlib.sha256(data).hexdigest(), data


def test_a_descriptor_is_evaluated_once_per_token_and_kind(monkeypatch):
    calls = []
    real = search.pv.may_read
    monkeypatch.setattr(search.pv, "may_read", lambda data, token, is_dir: calls.append(token) or real(data, token, is_dir))
    decisions = search.Decisions()
    sha, data = sd_for(ALICE.user_sid)
    assert all(decisions.allows(sha, data, ALICE, False) for _ in range(5))
    assert not any(decisions.allows(sha, data, BOB, False) for _ in range(5))
    assert decisions.allows(sha, data, ALICE, True)
    assert calls == [ALICE, BOB, ALICE]


def test_the_cache_is_bounded_and_forgets_the_least_recently_used():
    decisions = search.Decisions(size=2)
    a, b, c = sd_for(ALICE.user_sid), sd_for(BOB.user_sid), sd_for("S-1-5-18")
    for sha, data in (a, b, a, c):
        decisions.allows(sha, data, ALICE, False)
    assert [key[0] for key in decisions._cache] == [a[0], c[0]]


def test_an_unparsable_descriptor_is_refused_and_the_refusal_cached():
    decisions = search.Decisions()
    assert not decisions.allows("0" * 64, b"\x01\x00garbage", ALICE, False)
