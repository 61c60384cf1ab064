"""A redis-server of one's own on loopback, as the Celery broker of a test or a benchmark (never the
shared one on 6379: it is killed and restarted). With ``aof`` it keeps its data the way
docker-compose.yml's Redis does (append-only file, fsync every second), so a kill -9 and a restart
keep the queued messages; without, a restart loses them (a broker wiped by its operator).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port(start: int = 0) -> int:
    """A free loopback TCP port: the first at or above ``start`` (0: any the kernel gives)."""
    for port in ([0] if not start else range(start, start + 100)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port from {start}")


def wait_for(predicate, what: str, deadline: float = 180.0, every: float = 0.05):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what} ({deadline:.0f} s)")


class RedisServer:
    def __init__(self, workdir: Path, *, port: int = 0, aof: bool = True):
        self.workdir, self.aof, self.proc = Path(workdir), aof, None
        self.port = port or free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.aof else ["--appendonly", "no"]
        self.proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      *persistence, "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, start_new_session=True)
        wait_for(self.answers, f"redis on port {self.port} to answer", 20)

    def answers(self) -> bool:
        out = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
        return out.stdout.strip() == "PONG"

    def kill(self) -> None:
        """kill -9: no chance to write anything more."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def queued(self, queue: str = "celery") -> int:
        out = subprocess.run(["redis-cli", "-p", str(self.port), "llen", queue], capture_output=True, text=True)
        return int(out.stdout.strip() or 0)


def use_broker(url: str) -> None:
    """Point this process's Celery producer (the portal's ``delay()``) at ``url``."""
    from vdiprotect.celery import app

    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None
