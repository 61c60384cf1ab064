"""fastpath.Signal: what smbprotocol and our receive path ask of a request's ``response_event``."""

from __future__ import annotations

import threading
import time

from restore.smb.fastpath import Signal


def test_wait_returns_once_set_from_another_thread_and_times_out_otherwise():
    signal = Signal()
    assert not signal.is_set() and signal.wait(0.01) is False
    threading.Timer(0.05, signal.set).start()
    started = time.monotonic()
    assert signal.wait(5) is True and time.monotonic() - started < 2
    assert signal.wait(0) is True and signal.wait() is True  # stays set for every later wait


def test_many_sets_from_many_threads_are_one_set_and_clear_makes_it_wait_again():
    signal = Signal()
    threads = [threading.Thread(target=signal.set) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert signal.is_set() and signal.wait(0)
    signal.clear()
    assert not signal.is_set() and signal.wait(0.01) is False
    signal.set()
    assert signal.wait(0.01) is True


def test_several_waiters_all_wake():
    signal = Signal()
    woken = []
    waiters = [threading.Thread(target=lambda: woken.append(signal.wait(5))) for _ in range(4)]
    for t in waiters:
        t.start()
    time.sleep(0.05)
    signal.set()
    for t in waiters:
        t.join(5)
    assert woken == [True] * 4
