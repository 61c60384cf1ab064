"""A TCP proxy on loopback between the portal's workers and Samba that can drop every connection on
demand (the SMB cut of bench/faults.py) and refuse new ones for a while (a server restarting).
Point the workers at it with SMB_PORT=<its port>. Each connection is two threads copying bytes."""

from __future__ import annotations

import socket
import threading
import time


class CutLink:
    def __init__(self, upstream=("127.0.0.1", 445)):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.refuse_until = 0.0
        self.lock = threading.Lock()
        self.connections = self.cuts = 0
        threading.Thread(target=self._accept, daemon=True, name="cutlink-accept").start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self.refuse_until:
                down.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                down.close()  # a reset, as from a server that is not listening yet
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=10)
                up.settimeout(None)
            except OSError:
                down.close()
                continue
            for s in (down, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.pairs.append((down, up))
                self.connections += 1
            threading.Thread(target=self._pump, args=(down, up), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 20):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def upstream_ports(self) -> set[int]:
        """The local ports of the live connections to Samba (to find the smbd processes serving them)."""
        ports = set()
        with self.lock:
            for _down, up in self.pairs:
                try:
                    ports.add(up.getsockname()[1])
                except OSError:
                    pass
        return ports

    def cut(self, refuse_seconds: float = 0.0) -> int:
        """Drop every connection now (both sides see a reset); refuse new ones for ``refuse_seconds``."""
        self.refuse_until = time.monotonic() + refuse_seconds
        with self.lock:
            pairs, self.pairs = self.pairs, []
            self.cuts += 1
        for pair in pairs:
            for s in pair:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.shutdown(socket.SHUT_RDWR)  # wakes the pump threads blocked in recv()
                except OSError:
                    pass
                s.close()
        return len(pairs)

    def close(self) -> None:
        self.listener.close()
        self.cut()
