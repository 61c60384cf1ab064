"""Shared fixtures: the real test domain (scripts/testenv), its standing characters signed in, sign-in helpers.

The standing characters are fixtures of their own, each signed in through the real sign-in page
against AD: ``alice`` on pytest-django's ``client``, ``bob``, ``carol``, ``helpdesk1`` and
``auditor1`` each on a Client of their own (so a test can use several at once); ``signed_in(name)``
makes another. Helpers that are not fixtures live in tests/support/.

Tests that need Samba, Redis or PostgreSQL never skip: a missing server is a failure with a
message that says how to start it. Run the suite with ``scripts/test``.
"""

from __future__ import annotations

import base64
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENV_FILE = REPO / ".testenv" / "env"

END_USERS = ("alice", "bob", "carol")
CHARACTERS = END_USERS + ("helpdesk1", "auditor1")


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in LANGUAGE_CODE: a request through the test client leaves the language it chose
    (Accept-Language: de) active in the thread, and text made outside a request (the catalog's progress,
    a service's message) would follow it into the next test."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


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


def pytest_terminal_summary(terminalreporter, config):
    """The random order's seed, also under -q (whose header is hidden): a failure that depends on the
    order comes back with ``scripts/test --randomly-seed=N``."""
    if config.pluginmanager.has_plugin("randomly") and config.getoption("randomly_reorganize", True):
        terminalreporter.write_line(f"random order: --randomly-seed={config.getoption('randomly_seed')} repeats it")


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


@pytest.fixture
def signed_in(testenv):
    """signed_in('bob') -> a new Client signed in through the real sign-in page (the standard
    ``client`` stays as it was)."""
    from django.test import Client

    def _sign_in(username: str) -> Client:
        client = Client()
        response = client.post("/signin/", {"username": username, "password": testenv.password})
        assert response.status_code == 302, f"sign-in of {username} failed: {response.content[:500]!r}"
        return client

    return _sign_in


@pytest.fixture
def alice(sign_in):
    """alice (a user: her profile and data folders), signed in on the standard ``client``."""
    return sign_in("alice")


@pytest.fixture
def bob(signed_in):
    """bob (a user, alice's colleague), on a Client of his own."""
    return signed_in("bob")


@pytest.fixture
def carol(signed_in):
    """carol (a user outside Finance), on a Client of her own."""
    return signed_in("carol")


@pytest.fixture
def helpdesk1(signed_in):
    """helpdesk1 (Helpdesk: may act for users), on a Client of its own, acting for nobody yet."""
    return signed_in("helpdesk1")


@pytest.fixture
def auditor1(signed_in):
    """auditor1 (Auditors: reads the trail, never files), on a Client of its own."""
    return signed_in("auditor1")


@pytest.fixture
def cleanup(testenv):
    """A list of (root, path) restored into alice's live roots by the test: removed afterwards."""
    from tests.support.history import on_disk

    made = []
    yield made
    for root, target in made:
        path = on_disk(testenv, root, target, None)
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


@pytest.fixture
def worker(transactional_db, tmp_path):
    """One real Celery worker (tests/support/workers.py) on the portal's broker (TEST_REDIS_URL's db)
    and the test database; the test's writes must be committed for it to see them."""
    from django.conf import settings

    from tests.support.workers import Workers

    pool = Workers(settings.CELERY_BROKER_URL, tmp_path)
    pool.start()
    yield pool
    pool.stop_all()


def basic_auth(username: str, password: str) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}
