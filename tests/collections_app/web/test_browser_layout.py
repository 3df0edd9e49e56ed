"""The product's layout in Chromium at 1366×900 and 390×844 (issue 16): no page scrolls sideways,
the header's menu is one line on a desktop and a closed "Menu" on a phone, no word of a cell, a
header, a badge or a button is split across lines, inputs stay inside their cards.

With REGUA_README_SHOTS=1 it also takes the README's screenshots (docs/img/) from the demo
tenant seeded by `seed_demo`:
`REGUA_README_SHOTS=1 pytest tests/collections_app/web/test_browser_layout.py -k readme`.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django_scopes import scope, scopes_disabled

from collections_app.models import FollowUpTask, Invoice, InvoiceStatus
from tenants.selectors import tenant_today
from tests.browser import PROJECT_ROOT, log_in, new_page, screenshot
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Words split across lines, found by a Range over each word of the atomic elements' text: a
# word on one line has one client rect. Cells are checked for words up to 40 characters (a
# longer one, a URL, may wrap); badges, buttons and header cells for every word.
SPLIT_WORDS = """() => {
  const split = [];
  const visible = (el) => el.offsetParent !== null || el.getClientRects().length > 0;
  const check = (el, limit) => {
    if (!visible(el)) return;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\\S+/g)) {
        if (match[0].length > limit) continue;
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
        const lines = new Set(rects.map((r) => Math.round(r.top)));
        if (lines.size > 1) split.push(`${el.tagName.toLowerCase()}: ${match[0]}`);
      }
    }
  };
  const atomic = ".badge, button, .button, th, summary";
  document.querySelectorAll(atomic).forEach((el) => check(el, 1000));
  document.querySelectorAll("td").forEach((el) => check(el, 40));
  return split;
}"""

# Inputs, selects and textareas wider than the card or form that holds them.
STICKING_OUT = """() => [...document.querySelectorAll('.card input, .card select, .card textarea')]
  .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
  .filter((el) => {
    const card = el.closest('.card').getBoundingClientRect();
    const box = el.getBoundingClientRect();
    return box.right > card.right + 0.5 || box.left < card.left - 0.5;
  }).map((el) => el.name || el.id)"""


@pytest.fixture
def portfolio(tenant_a, owner):
    """Overdue invoices with long codes and names, a task and a planned ladder."""
    today = tenant_today(tenant=tenant_a)
    invoices = [
        InvoiceFactory(
            tenant=tenant_a,
            external_id=f"NF-37969651{n}2",
            due_date=today - timedelta(days=days),
            amount=amount,
            customer={
                "external_id": f"CLI-{n}",
                "name": name,
                "email": f"financeiro.{n}@distribuidora-exemplo.com.br",
                "phone": "+5511988887777",
            },
        )
        for n, (name, days, amount) in enumerate(
            [
                ("Distribuidora de Alimentos Horizonte Ltda", 23, "12345.67"),
                ("Maria Aparecida dos Santos Oliveira", 5, "890.00"),
                ("Clínica Odontológica Sorriso Perfeito", 61, "2500.50"),
            ]
        )
    ]
    with scope(tenant=tenant_a):
        FollowUpTask.objects.create(
            tenant=tenant_a,
            customer=invoices[0].customer,
            invoice=invoices[0],
            title="Ligar para a Distribuidora Horizonte",
            due_on=today - timedelta(days=1),
            assignee=owner,
        )
    return invoices


def assert_layout(page, name: str, size: str) -> None:
    width = page.evaluate("innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (
        f"{name} scrolls sideways"
    )
    assert page.evaluate(SPLIT_WORDS) == [], f"{name}: words split across lines"
    assert page.evaluate(STICKING_OUT) == [], f"{name}: inputs stick out of their card"
    header = page.locator("header.top")
    if page.locator("details[data-menu]").count():
        height = header.bounding_box()["height"]
        if size == "desktop":
            nav = page.locator("header.top nav").bounding_box()
            assert nav["height"] <= 40, f"{name}: the menu wraps ({nav['height']}px)"
            assert height <= 60, f"{name}: the header is {height}px tall"
        else:
            assert not page.locator("header.top nav").is_visible(), f"{name}: menu open"
            assert height < page.evaluate("innerHeight") / 3, f"{name}: header {height}px"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_fits_and_no_word_breaks(
    live_server, sized_page, tenant_a, owner, portfolio, size
):
    invoice = portfolio[0]
    page = sized_page
    log_in(page, live_server, owner)
    pages = {
        "overview": "/",
        "queue": "/invoices/",
        "invoice": f"/invoices/{invoice.pk}/",
        "tasks": "/tasks/",
        "settings": "/settings/",
        "company": "/settings/company/",
        "team": "/settings/team/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        assert_layout(page, name, size)
        screenshot(page, f"layout-{name}-{size}")
    # The invoice page: its steps read as words, the payment link has a copy button.
    page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
    steps = page.locator("table.steps").inner_text()
    assert "Planejada" in steps or "Enviada" in steps or "Não enviada" in steps
    assert page.locator("[data-payment-link] button[data-copy]").is_visible()
    if size == "phone":
        page.locator("summary.menu-toggle").click()
        assert page.get_by_role("link", name="Minhas tarefas").is_visible()
        screenshot(page, "layout-menu-open-phone")
        page.get_by_role("link", name="Minhas tarefas").click()
        page.wait_for_url(f"{live_server.url}/tasks/")
    else:
        page.locator("details[data-account] > summary").click()
        assert page.get_by_role("button", name="Sair").is_visible()
        screenshot(page, "layout-account-open-desktop")
    page.goto(f"{live_server.url}/p/{invoice.payment_token}")
    assert_layout(page, "payment", size)
    screenshot(page, f"layout-payment-{size}")


def _save_png(page, path: Path, **options) -> None:
    """A PNG small enough for the README: 1× scale, the viewport unless asked for the full page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), **options)
    assert path.stat().st_size <= 300_000, f"{path.name} is {path.stat().st_size} bytes"


@pytest.mark.skipif(
    os.environ.get("REGUA_README_SHOTS") != "1", reason="README screenshots: REGUA_README_SHOTS=1"
)
def test_readme_screenshots(live_server, browser):
    """docs/img/{overview,queue,invoice}.png at 1366×900 and payment-phone.png at 390×844, from
    the demo tenant (`seed_demo`), so the README shows the product as it is."""
    from collections_app.demo.seeding import DEMO_PASSWORD, OWNER_EMAIL

    call_command("seed_demo", "--slug", "demo", stdout=open(os.devnull, "w"))
    with scopes_disabled():
        invoice = (
            Invoice.objects.filter(tenant__slug="demo", status=InvoiceStatus.OPEN)
            .filter(due_date__lt=tenant_today(tenant=Invoice.objects.first().tenant))
            .order_by("-amount")
            .first()
        )
    images = PROJECT_ROOT / "docs" / "img"
    page = new_page(browser, "desktop", device_scale_factor=1)
    try:
        log_in(page, live_server, OWNER_EMAIL, DEMO_PASSWORD)
        for name, path in (
            ("overview", "/"),
            ("queue", "/invoices/"),
            ("invoice", f"/invoices/{invoice.pk}/"),
        ):
            page.goto(f"{live_server.url}{path}")
            assert_layout(page, name, "desktop")
            _save_png(page, images / f"{name}.png")
    finally:
        page.context.close()
    page = new_page(browser, "phone", device_scale_factor=1)
    try:
        page.goto(f"{live_server.url}/p/{invoice.payment_token}")
        assert_layout(page, "payment", "phone")
        _save_png(page, images / "payment-phone.png", full_page=True)
    finally:
        page.context.close()
