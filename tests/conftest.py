"""Shared fixtures: the real test domain (scripts/testenv), its standing characters, sign-in helpers.

Tests that need Samba, Redis or PostgreSQL never skip: a missing server is a failure with a
message that says how to start it. Run the suite with ``scripts/test``.
"""

from __future__ import annotations

import base64
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENV_FILE = REPO / ".testenv" / "env"

END_USERS = ("alice", "bob", "carol")
CHARACTERS = END_USERS + ("helpdesk1", "auditor1")


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """KEY='value' lines as written by scripts/testenv (shell quoting)."""
    facts = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        parts = shlex.split(value, posix=True)
        facts[key.removeprefix("export ").strip()] = parts[0] if parts else ""
    return facts


@dataclass(frozen=True)
class TestDomain:
    facts: dict

    def __getitem__(self, key: str) -> str:
        return self.facts[key]

    @property
    def password(self) -> str:
        return self.facts["TESTENV_USER_PASSWORD"]

    @property
    def realm(self) -> str:
        return self.facts["TESTENV_REALM"]

    @property
    def domain(self) -> str:
        return self.facts["TESTENV_DOMAIN"]

    def share_path(self, share: str) -> Path:
        return Path(self.facts[f"TESTENV_SHARE_{share.upper()}_PATH"])

    def snapdir(self, share: str) -> Path:
        return Path(self.facts[f"TESTENV_SHARE_{share.upper()}_SNAPDIR"])

    def snapshot(self, share: str) -> str:
        """Take a new snapshot of ``share`` now; returns its @GMT token."""
        out = subprocess.run([str(REPO / "scripts" / "testenv"), "snapshot", share],
                             check=True, capture_output=True, text=True).stdout
        return next(w for w in out.split() if w.startswith("@GMT-"))


@pytest.fixture(scope="session")
def testenv() -> TestDomain:
    """The running Samba AD test domain; fails (never skips) when it is not up."""
    status = subprocess.run([str(REPO / "scripts" / "testenv"), "status"], capture_output=True, text=True)
    if status.returncode != 0 or not ENV_FILE.exists():
        pytest.fail(
            "The Samba AD test domain is not running (scripts/testenv status said:\n"
            f"{status.stdout}{status.stderr}).\nStart it with: scripts/testenv up   (scripts/test does this for you)",
            pytrace=False,
        )
    return TestDomain(read_env_file())


@pytest.fixture
def sign_in(client, testenv):
    """sign_in('alice') signs the test client in through the real page, against AD."""

    def _sign_in(username: str, password: str | None = None, **extra):
        response = client.post("/signin/", {"username": username, "password": password or testenv.password}, **extra)
        assert response.status_code == 302, f"sign-in of {username} failed: {response.content[:500]!r}"
        return client

    return _sign_in


def basic_auth(username: str, password: str) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}
