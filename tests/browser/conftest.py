"""Browser tests: Playwright for Python drives Debian's chromium (/usr/bin/chromium, headless; no
browser is downloaded) against pytest-django's live server, which signs people in against the real
test domain and reads the real shares. A real Celery worker subprocess runs the jobs the pages start.

Every page a test visits is saved as a full-page screenshot in tests/artifacts/screenshots/ and
checked with axe-core; a test ends by asserting that no page had a serious or critical violation.

Playwright's sync API keeps an asyncio loop running in the test's thread, and Django refuses ORM
calls from a thread with a running loop. The live server answers from its own thread (unaffected);
the test's own checks of the database run in the test's thread, so DJANGO_ALLOW_ASYNC_UNSAFE is set
while this package's browser is open, and only then: nothing else shares the thread meanwhile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "tests" / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium calls home at start-up, which this closed
# network refuses; the rest keep a headless run quiet and deterministic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 90_000  # bounds how long a broken build waits (two shared cores); nothing measures speed
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so fixtures can tell whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser() -> Browser:
    for old in SCREENSHOTS.glob("*.png"):  # only this run's pages are left to look at
        old.unlink()
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@dataclass
class Screens:
    """Saves each page seen as NN-<what>.png (NN from ``first``, in the order seen) and runs axe on it."""

    first: int
    shots: list[Path] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def saw(self, page: Page, what: str) -> Path:
        page.wait_for_load_state("load")
        path = SCREENSHOTS / f"{self.first + len(self.shots):02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        result = Axe().run(page)
        for rule in result.response["violations"]:
            if rule["impact"] in BLOCKING_IMPACTS:
                targets = "; ".join(" ".join(node["target"]) for node in rule["nodes"])
                self.violations.append(f"{path.name} {page.url}: {rule['id']} ({rule['impact']}): {targets}")
        return path

    def follow(self, page: Page, link: str, *, heading: str, what: str) -> None:
        """Click the link named ``link``, wait for the page whose h1 says ``heading``, save it as ``what``."""
        page.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        self.saw(page, what)

    def assert_accessible(self) -> None:
        if self.violations:
            pytest.fail("axe-core found serious or critical problems:\n" + "\n".join(self.violations), pytrace=False)


@pytest.fixture
def portal(browser, live_server, testenv, request):
    """portal('alice', screens[, timezone_id]) -> a page in a browser context of alice's own (in that
    time zone), signed in through /signin/
    (the sign-in page and the page after it are screens' first two shots).
    When the test fails, the page each person was on is saved as failed-<test>-<person>.png."""
    contexts = {}

    def _open(username: str, screens: Screens, timezone_id: str = "UTC") -> Page:
        context = browser.new_context(base_url=live_server.url, accept_downloads=True,
                                      viewport={"width": 1280, "height": 900}, locale="en-GB",
                                      timezone_id=timezone_id)
        context.set_default_timeout(TIMEOUT_MS)
        contexts[username] = context
        page = context.new_page()
        page.goto("/signin/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        screens.saw(page, f"sign-in-{username}")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(testenv.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        screens.saw(page, f"{username}-home")
        return page

    yield _open
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for username, context in contexts.items():
        if failed:
            context.pages[-1].screenshot(path=str(SCREENSHOTS / f"failed-{request.node.name}-{username}.png"),
                                         full_page=True)
        context.close()
