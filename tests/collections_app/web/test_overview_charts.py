"""The overview's charts: bars from a zero baseline with heights proportional to their values, a y
axis of round ticks, and labels that stay inside the viewBox without covering one another —
whatever the data (equal values, one huge among tiny ones, zeros, all zero) — in both the wide
and the narrow (phone) layout; the page draws them with scoped class names only."""

import re
from datetime import timedelta
from itertools import combinations

import pytest
from django_scopes import scope

from collections_app.models import Ladder, Segment
from collections_app.web.charts import (
    CHART_LAYOUTS,
    Series,
    money_bar_charts,
    nice_ticks,
    short_money,
    text_width,
)
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory

BUCKETS = ["1–15", "16–30", "31–60", "61–90", "90+"]
MONTHS = ["jun/26", "jul/26", "ago/26", "set/26", "out/26", "nov/26"]

ADVERSARIAL = {
    "seen in the issue": [7002.80, 7203.70, 4269.60, 7002.80, 120.00],
    "equal values": [5000.0] * 5,
    "one huge and many tiny": [9_876_543.21, 0.01, 3.0, 12.5, 999.99],
    "tiny then huge": [0.01, 2.0, 3.0, 4.0, 99_999_999.0],
    "zeros": [0.0, 12_345.67, 0.0, 0.0, 1.0],
    "all zero": [0.0] * 5,
    "staircase a label apart": [1000.0, 1060.0, 1120.0, 1180.0, 1240.0],
    "long amounts": [999_949.0, 888_888.0, 777_777.0, 999_999.0, 950_000.0],
}


def aging_chart(values, layout):
    return money_bar_charts(
        BUCKETS,
        [Series("Overdue", values, [str(v) for v in values])],
        value_labels=[short_money(v) for v in values],
        summary="",
    )[layout]


def recovery_chart(late, recovered, layout):
    rates = [f"{100 * r / lt:.0f}%" if lt else "" for lt, r in zip(late, recovered, strict=True)]
    return money_bar_charts(
        MONTHS,
        [
            Series("Late", late, [str(v) for v in late], "late"),
            Series("Recovered", recovered, [str(v) for v in recovered]),
        ],
        value_labels=rates,
        summary="",
    )[layout]


def assert_well_drawn(chart):
    # Bars stand on the baseline, with heights proportional to their values (a non-zero
    # amount too small to see is drawn 1 unit high), the top tick's gridline at the top.
    peak_line = min(chart.gridlines)
    unit = None
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(chart.baseline)
        assert bar.height >= 0 and bar.y >= peak_line - 1e-6
        assert chart.left <= bar.x and bar.x + bar.width <= chart.right + 1e-6
        if bar.value == 0:
            assert bar.height == 0
        elif bar.height > 1:
            unit = unit or bar.height / bar.value
            assert bar.height == pytest.approx(bar.value * unit, rel=1e-6)
    for bar in chart.bars:
        if bar.value and unit:
            assert abs(bar.height - bar.value * unit) <= 1
    # A y axis: at least two round ticks, each labelled, its gridline where its value is.
    ticks = chart.ticks
    assert len(ticks) >= 2 and len(chart.gridlines) == len(ticks)
    assert max(chart.gridlines) == pytest.approx(chart.baseline)
    assert ticks[0].text in ("R$ 0", "0")
    # The narrow layout's ticks leave the currency out and say it once, above them.
    assert ticks[-1].text.startswith("R$") or chart.unit.text == "R$"
    # Every text inside the viewBox, none covering another.
    for label in chart.labels:
        box = label.box
        assert 0 <= box.x0 and box.x1 <= chart.width, label
        assert 0 <= box.y0 and box.y1 <= chart.height, label
    for a, b in combinations(chart.labels, 2):
        assert not a.box.overlaps(b.box), (a, b)
    # Value labels sit above their bars, never on them; one lifted to clear another has a
    # line down to its bars.
    values = [label for label in chart.labels if label.kind == "value"]
    for label in values:
        assert label.box.y1 <= chart.baseline
    assert len(chart.leaders) == sum(1 for label in values if label.lift)
    for x, y_from, y_to in chart.leaders:
        assert chart.left < x < chart.right and y_from < y_to <= chart.baseline


@pytest.mark.parametrize("layout", CHART_LAYOUTS)
@pytest.mark.parametrize("values", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_the_aging_chart_is_drawn_from_its_data_whatever_the_data(values, layout):
    chart = aging_chart(values, layout)
    assert_well_drawn(chart)
    # Every non-empty bucket has its value on the chart (in short), unless there was no room.
    written = [label.text for label in chart.labels if label.kind == "value"]
    assert written == [short_money(v) for v in values]
    assert [label.text for label in chart.labels if label.kind == "category"] == BUCKETS


@pytest.mark.parametrize("layout", CHART_LAYOUTS)
@pytest.mark.parametrize(
    "late, recovered",
    [
        ([7002.8, 7203.7, 4269.6, 9000.0, 100.0, 0.0], [7002.8, 3600.0, 0.0, 9000.0, 1.0, 0.0]),
        ([1e6, 1.0, 1.0, 1.0, 1.0, 1.0], [1e6, 1.0, 0.5, 0.0, 1.0, 1.0]),
        ([0.0] * 6, [0.0] * 6),
        ([500.0] * 6, [500.0] * 6),
    ],
)
def test_the_recovery_chart_is_drawn_from_its_data_whatever_the_data(late, recovered, layout):
    chart = recovery_chart(late, recovered, layout)
    assert_well_drawn(chart)
    assert [s.name for s in chart.series] == ["Late", "Recovered"]
    # Two bars a month, side by side.
    assert len(chart.bars) == 12
    for late_bar, recovered_bar in zip(chart.bars[::2], chart.bars[1::2], strict=True):
        assert late_bar.x + late_bar.width == pytest.approx(recovered_bar.x)
        assert late_bar.tone != recovered_bar.tone


def test_chart_amounts_are_short_and_the_ticks_round():
    assert short_money(4269.60) == "R$ 4,3 mil"
    assert short_money(7203.70) == "R$ 7,2 mil"
    assert short_money(999_950) == "R$ 1 mi"
    assert short_money(850) == "R$ 850"
    assert short_money(4269.60, locale="en") == "R$4.3K"
    assert nice_ticks(7203.70) == [0, 2000, 4000, 6000, 8000]
    assert nice_ticks(1) == [0, 0.2, 0.4, 0.6, 0.8, 1]
    assert nice_ticks(0) == [0]
    # The estimate errs wide: DejaVu Sans' "R$ 4,3 mil" is 5.07 em.
    assert text_width("R$ 4,3 mil", 10) >= 50.7


def svg_of(html: str, chart: str) -> str:
    return re.search(rf'<svg [^>]*data-chart="{chart}".*?</svg>', html, re.S).group(0)


def test_the_overview_draws_both_charts_in_scoped_svg_beside_their_tables(
    tenant_a, tenant_b, viewer, login
):
    today = tenant_today(tenant=tenant_a)
    for days, amount in ((5, "4269.60"), (20, "7002.80"), (45, "7203.70"), (100, "12.50")):
        InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=days), amount=amount)
    InvoiceFactory(tenant=tenant_b, due_date=today - timedelta(days=5), amount="999999.00")
    html = login(viewer).get("/").content.decode()

    for chart in ("aging", "aging-narrow", "recovery", "recovery-narrow"):
        svg = svg_of(html, chart)
        # Only rc-* classes inside: page rules (.bar, .value, .label…) cannot reach the chart.
        classes = {c for attr in re.findall(r'class="([^"]*)"', svg) for c in attr.split()}
        assert classes and all(c.startswith("rc-") for c in classes), classes
        assert re.search(r'viewBox="0 0 \d+ \d+"', svg)
        assert 'class="rc-tick"' in svg and "<line" in svg  # a y axis with gridlines
    aging = svg_of(html, "aging")
    # Short amounts on the chart, the full ones in its tooltips, its title and its table.
    for short, full in (("R$ 4,3 mil", "R$ 4.269,60"), ("R$ 7 mil", "R$ 7.002,80")):
        assert f">{short}</text>" in aging
        assert f"<title>1–15 dias: {full}</title>" in aging or full in aging
        assert f'<td class="num">{full}</td>' in html
    assert "1–15: R$ 4.269,60" in aging
    assert "999" not in aging  # the other tenant's invoice is not in this tenant's chart
    # Heights proportional to the amounts: 31–60 (R$ 7.203,70) is the tallest bar.
    heights = {
        float(value): float(height)
        for height, value in re.findall(r'height="([\d.]+)" data-value="([\d.e+]+)"', aging)
    }
    assert heights[7203.7] == max(heights.values())
    assert heights[4269.6] / heights[7203.7] == pytest.approx(4269.6 / 7203.7, abs=0.01)
    # The recovery chart has two series, so a legend; the aging chart, one, so none.
    assert html.count('class="rc-legend"') == 1
    legend = re.search(r'<ul class="rc-legend">.*?</ul>', html, re.S).group(0)
    assert "Em atraso" in legend and "Recuperado" in legend


def test_a_segment_with_nothing_overdue_draws_an_empty_chart_with_its_axis(tenant_a, viewer, login):
    today = tenant_today(tenant=tenant_a)
    InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=5), amount="480.00")
    with scope(tenant=tenant_a):
        ladder = Ladder.objects.get(is_default=True)
        vip = Segment.objects.create(
            tenant=tenant_a, name="VIP", priority=1, rule={}, ladder=ladder
        )
    html = login(viewer).get(f"/?segment={vip.pk}").content.decode()
    aging = svg_of(html, "aging")
    assert "<rect" not in aging.split("</title>", 1)[1]  # no bars
    assert aging.count('class="rc-tick"') >= 2 and ">R$ 0</text>" in aging
