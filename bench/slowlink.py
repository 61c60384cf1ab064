"""A delaying TCP proxy for SMB on loopback: used by bench/timeline.py and the SMB adapter tests."""

from __future__ import annotations

import queue
import socket
import threading
import time


class SlowLink:
    """A TCP proxy to Samba that delays every packet ``delay`` seconds each way: a real network's
    latency, on loopback. (Loopback answers in microseconds, which hides what pipelining saves.)"""

    def __init__(self, delay: float, upstream=("127.0.0.1", 445)):
        self.delay, self.upstream = delay, upstream
        self.events: list[tuple[str, int]] = []  # ("up" client->server | "down", bytes), in arrival order
        self.listener = socket.create_server((upstream[0], 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            for s in (downstream, upstream):  # as servers do: no Nagle delays on top of the latency
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sockets += [downstream, upstream]
            for src, dst, direction in ((downstream, upstream, "up"), (upstream, downstream, "down")):
                pending: queue.Queue = queue.Queue()
                threading.Thread(target=self._receive, args=(src, pending, direction), daemon=True).start()
                threading.Thread(target=self._deliver, args=(dst, pending), daemon=True).start()

    def _receive(self, src, pending, direction):
        while True:
            try:
                data = src.recv(1 << 20)
            except OSError:
                data = b""
            self.events.append((direction, len(data)))
            pending.put((time.monotonic() + self.delay, data))
            if not data:
                return

    def _deliver(self, dst, pending):
        while True:
            due, data = pending.get()
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return

    def close(self):
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
