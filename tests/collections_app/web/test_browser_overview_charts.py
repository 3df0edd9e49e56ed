"""The overview's charts in Chromium, at a desktop and a phone size: every text of a chart lies
inside its SVG and covers no other, bars stand on the baseline, the text reads at a legible size
and the page does not scroll sideways. Screenshots of the charts are kept as artifacts."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_scopes import scope

from collections_app.payments.services import invoice_record_payment
from tenants.selectors import tenant_today
from tests.browser import SIZES, artifacts_dir, log_in, screenshot
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Every visible chart: its box, its texts' boxes, its bars' bottoms and its baseline.
MEASURE = """() => [...document.querySelectorAll('svg.rc-chart')]
  .filter(svg => svg.getBoundingClientRect().width > 0)
  .map(svg => {
    const box = r => { const b = r.getBoundingClientRect();
      return {x0: b.left, y0: b.top, x1: b.right, y1: b.bottom}; };
    return {
      name: svg.dataset.chart,
      svg: box(svg),
      texts: [...svg.querySelectorAll('text')].map(
        t => ({text: t.textContent, kind: t.getAttribute('class'), ...box(t)})),
      bars: [...svg.querySelectorAll('rect')].map(box),
      baseline: box(svg.querySelector('.rc-axis')).y0,
    };
  })"""


def overlap(a, b) -> bool:
    return not (
        a["x1"] <= b["x0"] or b["x1"] <= a["x0"] or a["y1"] <= b["y0"] or b["y1"] <= a["y0"]
    )


@pytest.fixture
def overdue_book(tenant_a):
    """The amounts that broke the old charts, in every days-past-due bucket, and months of
    late invoices partly recovered."""
    today = tenant_today(tenant=tenant_a)
    for days, amount in (
        (3, "4269.60"),
        (10, "7002.80"),
        (20, "7203.70"),
        (45, "7002.80"),
        (75, "0.50"),
        (120, "152340.00"),
    ):
        InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=days), amount=amount)
    for days, amount, paid_share in ((40, "9000.00", 1), (70, "3500.00", 0.5), (130, "800", 0.25)):
        invoice = InvoiceFactory(
            tenant=tenant_a, due_date=today - timedelta(days=days), amount=amount
        )
        paid_on = today - timedelta(days=days - 12)
        with scope(tenant=tenant_a):
            invoice_record_payment(
                tenant=tenant_a,
                invoice=invoice,
                amount=(Decimal(amount) * Decimal(str(paid_share))).quantize(Decimal("0.01")),
                paid_at=timezone.make_aware(datetime.combine(paid_on, time(12))),
                thank_you=False,
            )


@pytest.mark.parametrize("size", SIZES)
def test_the_overview_charts_labels_stay_inside_and_apart(
    live_server, sized_page, overdue_book, owner, size
):
    page = sized_page
    log_in(page, live_server, owner)
    charts = page.evaluate(MEASURE)
    assert sorted(c["name"] for c in charts) == (
        ["aging", "recovery"] if size == "desktop" else ["aging-narrow", "recovery-narrow"]
    )
    for chart in charts:
        svg, texts = chart["svg"], chart["texts"]
        assert len(texts) >= 10, chart["name"]
        for text in texts:
            assert svg["x0"] - 0.5 <= text["x0"] and text["x1"] <= svg["x1"] + 0.5, text
            assert svg["y0"] - 0.5 <= text["y0"] and text["y1"] <= svg["y1"] + 0.5, text
            # Legible: a line of text 10 to 18 px high on the screen.
            assert 10 <= text["y1"] - text["y0"] <= 20, text
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                assert not overlap(a, b), (chart["name"], a, b)
        for bar in chart["bars"]:
            assert bar["y1"] == pytest.approx(chart["baseline"], abs=1)
            assert bar["y1"] - bar["y0"] < svg["y1"] - svg["y0"]
    # The short amounts on the chart, the full ones in the table beside it.
    aging = page.locator("[data-chart-box=aging] svg.rc-chart:visible")
    assert "R$ 7,2 mil" in aging.text_content()
    assert page.locator(".chart-data").first.get_by_text("R$ 7.203,70").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["viewport"]["width"]
    screenshot(page, f"overview-charts-{size}")
    # The charts alone, at the screen's resolution, for a reviewer to read their labels.
    page.locator(".charts").screenshot(
        path=str(artifacts_dir() / f"overview-charts-{size}-section.png")
    )
