"""Browser tests: Playwright driving Debian's Chromium on a phone-sized viewport.

Use the `page` fixture together with pytest-django's `live_server`, and `screenshot()` to keep
a full-page PNG as a test artifact (var/test-artifacts/screenshots/, or $TEST_ARTIFACTS_DIR).
Without Chromium or Playwright the tests skip locally and fail under CI=true.
"""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import require_service

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


@pytest.fixture
def page(browser):
    """A fresh phone-sized page (own cookies and storage), clipboard readable by the test."""
    context = browser.new_context(**PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    yield page
    context.close()
