"""Browser tests: Playwright driving Debian's Chromium at a phone or a desktop size.

Use the `page` (phone), `desktop_page` or `sized_page` (the test's `size` parameter) fixture
together with pytest-django's `live_server`, `log_in()` to go through the login form, and
`screenshot()` to keep a full-page PNG as a test artifact (var/test-artifacts/screenshots/, or
$TEST_ARTIFACTS_DIR). Without Chromium or Playwright the tests skip locally and fail under
CI=true.
"""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.tenants.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "pt-BR",
    "timezone_id": "America/Sao_Paulo",
}
DESKTOP = {
    "viewport": {"width": 1366, "height": 900},
    "locale": "pt-BR",
    "timezone_id": "America/Sao_Paulo",
}
SIZES = {"desktop": DESKTOP, "phone": PHONE}
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def artifacts_dir() -> Path:
    base = os.environ.get("TEST_ARTIFACTS_DIR")
    return Path(base) if base else PROJECT_ROOT / "var" / "test-artifacts" / "screenshots"


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG of `page` as `<name>.png` in the artifacts directory."""
    directory = artifacts_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}.png"
    # A full-page capture stretches the viewport to the page's height and back. Chromium then
    # reports one scroll position to scripts and restores another at the next input, so a click
    # right after it pressed one element and released on another (the ladder step's "Salvar"
    # landed on its form). Put the page back where it was, and let two frames pass.
    where = page.evaluate("[scrollX, scrollY]")
    page.screenshot(path=str(path), full_page=True)
    page.evaluate(
        """([x, y]) => new Promise(done => {
            scrollTo(x, y);
            requestAnimationFrame(() => requestAnimationFrame(done));
        })""",
        where,
    )
    return path


BROWSER_FIXTURES = {"browser", "page"}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Run browser tests last: from its start to the end of the session, Playwright's sync API
    keeps an event loop running in the main thread, which the other tests must not run under."""
    items.sort(key=lambda item: bool(BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))))


@pytest.fixture(scope="session")
def browser():
    try:  # imported here: Playwright is optional, a machine without it skips these tests
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require_service(sync_playwright is not None, "Playwright is missing (pip install -e '.[dev]')")
    require_service(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    # With Playwright's event loop running in this thread, Django refuses the ORM calls made here
    # (database setup, the test's own queries, the flush after it) unless told they are safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def new_page(browser, size: str, **options):
    """A fresh page (own cookies and storage) of `size` ("desktop" or "phone"), with `options`
    for its browser context, clipboard readable by the test. Close it with
    `page.context.close()`."""
    context = browser.new_context(**{**SIZES[size], **options})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    return context.new_page()


@pytest.fixture
def page(browser):
    """A fresh phone-sized page."""
    page = new_page(browser, "phone")
    yield page
    page.context.close()


@pytest.fixture
def desktop_page(browser):
    """A fresh desktop-sized page."""
    page = new_page(browser, "desktop")
    yield page
    page.context.close()


@pytest.fixture
def sized_page(browser, size):
    """A fresh page at the size the test is parametrized with: `size` is "desktop" or "phone"."""
    page = new_page(browser, size)
    yield page
    page.context.close()


def submit_login(page, live_server, user, password=PASSWORD) -> None:
    """Fill in and send the login form as `user` (a user or an e-mail address), without waiting
    for where it leads."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mail").fill(getattr(user, "email", user))
    page.get_by_label("Senha", exact=True).fill(password)
    page.get_by_role("button", name="Entrar").click()


def log_in(page, live_server, user, password=PASSWORD) -> None:
    """Log `user` (a user or an e-mail address) in through the login form, and wait for the
    overview it lands on."""
    submit_login(page, live_server, user, password)
    page.wait_for_url(f"{live_server.url}/")


def expect(target):
    """Playwright's auto-waiting assertions, imported once the `browser` fixture has checked
    that Playwright is installed (without it the tests skip, or fail under CI=true)."""
    # imported here: Playwright is optional; the `browser` fixture skips without it
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)
