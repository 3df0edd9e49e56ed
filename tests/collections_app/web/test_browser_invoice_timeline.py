"""The invoice page's timeline in Chromium, desktop and phone: each message with its text, its
delivery states behind a click, labels instead of codes, nothing wider than the screen."""

import pytest

from tests.browser import artifacts_dir, log_in, screenshot
from tests.collections_app.web.test_labels_and_timeline import (  # noqa: F401 (a fixture)
    RAW_CODES,
    busy_invoice,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_busy_timeline_reads_well(live_server, sized_page, tenant_a, agent, busy_invoice, size):  # noqa: F811
    page = sized_page
    log_in(page, live_server, agent)
    page.goto(f"{live_server.url}/invoices/{busy_invoice.pk}/")
    timeline = page.locator("[data-timeline]")
    text = timeline.inner_text()
    assert "A fatura NF-1 de R$ 900,00 venceu." in text
    for code in RAW_CODES:
        assert code not in page.locator("main").inner_text(), code
    read = page.locator("details.message-states", has=page.locator('[data-state="read"]'))
    assert not read.locator('[data-state="read"]').is_visible()  # folded until asked
    read.locator("summary").click()
    assert read.locator('[data-state="read"]').is_visible()
    # The timeline never makes the page scroll sideways (a long link in a body wraps).
    width = page.evaluate("innerWidth")
    box = timeline.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert timeline.evaluate("el => el.scrollWidth <= el.clientWidth")
    screenshot(page, f"invoice-timeline-{size}")
    # The timeline alone too: on a phone the full page is too tall to judge it.
    timeline.screenshot(path=str(artifacts_dir() / f"invoice-timeline-{size}-only.png"))
