"""restore/catalog/listing.py: folders asked for ahead are listed in batches, each folder gets its own
outcome, and nothing asked for is lost or listed twice (the fetch is a recording function: pure logic)."""

from __future__ import annotations

import threading

import pytest

from restore.catalog import listing
from restore.catalog.listing import Lister


class Recorder:
    def __init__(self, fail: set[str] = frozenset(), broken: bool = False):
        self.calls: list[list[tuple[str, bool]]] = []
        self.fail = fail
        self.broken = broken
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items):
        self.release.wait(5)
        self.calls.append(list(items))
        if self.broken:
            raise ConnectionError("connection lost twice")
        return [LookupError(path) if path in self.fail else ([path.upper()], {"sd": with_sds} if with_sds else None)
                for path, with_sds in items]


def test_folders_asked_ahead_are_listed_in_batches_and_each_taken_once():
    fetch = Recorder()
    with Lister(fetch) as lister:
        for n in range(listing.BATCH + 5):
            lister.ask(n, f"f{n}", with_sds=n % 2 == 0)
        lister.ask(3, "f3", with_sds=False)  # asked twice: queued once
        lister.send()
        assert lister.take(0, "f0", True) == (["F0"], {"sd": True})
        assert lister.take(1, "f1", False) == (["F1"], None)
        assert lister.take(listing.BATCH + 4, f"f{listing.BATCH + 4}", True)[0] == [f"F{listing.BATCH + 4}"]
    sent = [path for call in fetch.calls for path, _ in call]
    assert sorted(sent) == sorted(f"f{n}" for n in range(listing.BATCH + 5))  # each folder once
    assert [len(call) for call in fetch.calls] == [listing.BATCH, 5]


def test_a_folder_nobody_asked_for_is_listed_when_taken():
    fetch = Recorder()
    with Lister(fetch) as lister:
        assert lister.take(7, "seven", False) == (["SEVEN"], None)
        assert not lister.asked(7)  # taken: forgotten
    assert fetch.calls == [[("seven", False)]]


def test_one_folders_failure_is_its_own_and_a_failed_call_fails_each_of_its_folders():
    with Lister(Recorder(fail={"gone"})) as lister:
        lister.ask(1, "gone", False)
        lister.ask(2, "here", False)
        lister.send()
        with pytest.raises(LookupError):
            lister.take(1, "gone", False)
        assert lister.take(2, "here", False) == (["HERE"], None)
    with Lister(Recorder(broken=True)) as lister:
        lister.ask(1, "a", False)
        lister.ask(2, "b", False)
        lister.send()
        for n, path in ((1, "a"), (2, "b")):
            with pytest.raises(ConnectionError):
                lister.take(n, path, False)


def test_room_counts_folders_in_flight_and_listings_not_yet_taken(monkeypatch):
    monkeypatch.setattr(listing, "DONE_AHEAD", 4)
    fetch = Recorder()
    fetch.release.clear()  # the server has not answered yet
    with Lister(fetch) as lister:
        assert lister.room() == listing.AHEAD
        for n in range(3):
            lister.ask(n, f"f{n}", False)
        lister.send()
        assert lister.room() == listing.AHEAD - 3
        fetch.release.set()
        lister.take(0, "f0", False)
        lister.take(1, "f1", False)
        lister.take(2, "f2", False)
        assert lister.room() == listing.AHEAD
        for n in range(3, 7):
            lister.ask(n, f"f{n}", False)
        lister.send()
        assert lister.room() == 0  # four asked for and not taken: the walk must catch up first
