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
# The three screens every journey runs on: a phone (touch), a tablet (touch) and a laptop.
SIZES = {
    "phone": {"viewport": {"width": 360, "height": 640}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2},
    "tablet": {"viewport": {"width": 768, "height": 1024}, "has_touch": True, "is_mobile": True},
    "laptop": {"viewport": {"width": 1366, "height": 768}},
}
TOUCH_TARGET = 44  # CSS pixels (WCAG 2.5.5): buttons, form fields and navigation on a touch screen
# What a finger presses; links inside a sentence are exempt (WCAG 2.5.5 "inline").
CONTROLS = "button, select, input:not([type=hidden]), a.button, header nav a, nav.steps a, td.actions a, summary"
TOO_SMALL = """(args) => [...document.querySelectorAll(args.controls)].filter(e => {
  const r = e.getBoundingClientRect(), style = getComputedStyle(e);
  if (!r.width || !r.height || style.visibility === "hidden") return false;
  const input = e.matches("input[type=radio], input[type=checkbox]");
  const box = input ? e.closest("label").getBoundingClientRect() : r;  // the label is what is pressed
  return box.height < args.min - 0.5;
}).map(e => e.outerHTML.slice(0, 80))"""


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
    size: str = "laptop"  # one of SIZES: the files are named <size>-NN-<what>.png
    shots: list[Path] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def saw(self, page: Page, what: str) -> Path:
        page.wait_for_load_state("load")
        path = SCREENSHOTS / f"{self.size}-{self.first + len(self.shots):02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            self.violations.append(f"{path.name} {page.url}: wider than the {self.size}'s screen (scrolls sideways)")
        if SIZES[self.size].get("has_touch"):
            small = page.evaluate(TOO_SMALL, {"controls": CONTROLS, "min": TOUCH_TARGET})
            if small:
                self.violations.append(f"{path.name} {page.url}: controls under {TOUCH_TARGET} px: {small[:5]}")
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
            pytest.fail("axe-core (serious or critical), sideways scrolling or small touch targets:\n"
                        + "\n".join(self.violations), pytrace=False)


@pytest.fixture
def portal(browser, live_server, testenv, request):
    """portal('alice', screens[, timezone_id, locale]) -> a page in a browser context of alice's own (in
    that time zone and language, on the screen of ``screens.size``), signed in through /signin/
    (the sign-in page and the page after it are screens' first two shots).
    When the test fails, the page each person was on is saved as failed-<test>-<person>.png."""
    contexts = {}

    def _open(username: str, screens: Screens, timezone_id: str = "UTC", locale: str = "en-GB",
              sign_in: tuple[str, ...] = ("Sign in", "User name", "Password", "Sign out")) -> Page:
        heading, user_label, password_label, sign_out = sign_in
        context = browser.new_context(base_url=live_server.url, accept_downloads=True, locale=locale,
                                      timezone_id=timezone_id, **SIZES[screens.size])
        context.set_default_timeout(TIMEOUT_MS)
        contexts[username] = context
        page = context.new_page()
        page.goto("/signin/")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        screens.saw(page, f"sign-in-{username}")
        page.get_by_label(user_label).fill(username)
        page.get_by_label(password_label).fill(testenv.password)
        page.get_by_role("button", name=heading).click()
        expect(page.get_by_role("button", name=sign_out)).to_be_visible()
        screens.saw(page, f"{username}-home")
        return page

    yield _open
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for username, context in contexts.items():
        if failed:
            context.pages[-1].screenshot(path=str(SCREENSHOTS / f"failed-{request.node.name}-{username}.png"),
                                         full_page=True)
        context.close()
