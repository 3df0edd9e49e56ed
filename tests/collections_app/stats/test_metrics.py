"""The DESIGN metric definitions, checked against figures computed by hand."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.invoices.services import invoice_cancel
from collections_app.models import Invoice
from collections_app.payments.services import invoice_record_payment
from collections_app.stats.selectors import metrics_compute
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 15)


def pay(tenant, invoice, amount, on: date):
    # 15:00 UTC is midday in São Paulo: the local payment date is `on`.
    when = datetime(on.year, on.month, on.day, 15, 0, tzinfo=UTC)
    with scope(tenant=tenant):
        invoice_record_payment(tenant=tenant, invoice=invoice, amount=Decimal(amount), paid_at=when)


@pytest.fixture
def portfolio(tenant_a):
    """Five invoices due in November 2026 (business days), one cancelled."""
    t = tenant_a
    a = InvoiceFactory(
        tenant=t, due_date=date(2026, 11, 10), issue_date=date(2026, 10, 11), amount="1000.00"
    )
    b = InvoiceFactory(
        tenant=t, due_date=date(2026, 11, 12), issue_date=date(2026, 10, 13), amount="500.00"
    )
    c = InvoiceFactory(
        tenant=t, due_date=date(2026, 11, 18), issue_date=date(2026, 10, 19), amount="300.00"
    )
    d = InvoiceFactory(
        tenant=t, due_date=date(2026, 11, 24), issue_date=date(2026, 10, 25), amount="200.00"
    )
    e = InvoiceFactory(
        tenant=t, due_date=date(2026, 11, 26), issue_date=date(2026, 10, 27), amount="999.00"
    )
    pay(t, a, "1000.00", date(2026, 11, 10))  # on time, 30 days to pay, 0 late
    pay(t, b, "500.00", date(2026, 11, 22))  # 10 days late, 40 days to pay
    pay(t, c, "100.00", date(2026, 11, 20))  # partial; 200 still open, overdue
    # d: unpaid, overdue since 24/11
    with scope(tenant=t):
        invoice_cancel(tenant=t, invoice=e)
    return a, b, c, d, e


def test_metrics_follow_the_design_definitions(tenant_a, portfolio):
    with scope(tenant=tenant_a):
        m = metrics_compute(
            tenant=tenant_a, date_from=date(2026, 11, 1), date_to=date(2026, 11, 30), today=TODAY
        )
    # Fully paid in the period: a (30 days, 0 late) and b (40 days, 10 late).
    assert m["avg_days_to_pay"] == 35.0
    assert m["avg_days_late"] == 5.0
    # Due in the period, cancelled left out: a, b, c, d. On time: a only.
    assert m["invoices_due"] == 4
    assert m["on_time_rate"] == 0.25
    assert m["on_time_amount_rate"] == round(1000 / 2000, 4)
    # Not paid by the due date: b, c, d (1000.00); paid since: 500 + 100.
    assert m["recovery_rate"] == 0.6
    assert m["recovery_count_rate"] == round(1 / 3, 4)
    # Overdue now: c 200 + d 200.
    assert m["overdue_amount"] == "400.00"
    assert m["default_rate"] == 0.2
    # Days past due at 15/12: c 27 days, d 21 days.
    assert m["aging_16_30"] == "400.00"
    assert m["aging_1_15"] == m["aging_31_60"] == m["aging_90_plus"] == "0.00"
    # DSO: open 400 ÷ invoiced in the 90 days to 30/11 (a–d: 2000) × 90.
    assert m["dso"] == 18.0


def test_effective_due_date_counts_for_on_time(tenant_a):
    # Due on Sunday 25/10 → effective Monday 26/10; paid on the Monday: on time.
    inv = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 10, 25), issue_date=date(2026, 9, 25))
    pay(tenant_a, inv, "1000.00", date(2026, 10, 26))
    with scope(tenant=tenant_a):
        m = metrics_compute(
            tenant=tenant_a, date_from=date(2026, 10, 1), date_to=date(2026, 10, 31), today=TODAY
        )
    assert m["on_time_rate"] == 1.0
    assert m["avg_days_late"] == 0.0


def test_empty_period_gives_none_not_zero(tenant_a):
    with scope(tenant=tenant_a):
        m = metrics_compute(
            tenant=tenant_a, date_from=date(2020, 1, 1), date_to=date(2020, 1, 31), today=TODAY
        )
    assert m["recovery_rate"] is None and m["avg_days_to_pay"] is None
    assert m["overdue_amount"] == "0.00"


def test_metrics_endpoint_is_flat_with_previous_period(api_a, tenant_a, portfolio):
    body = api_a.get("/api/v1/metrics/?from=2026-11-01&to=2026-11-30").json()
    for key in (
        "recovery_rate",
        "avg_days_to_pay",
        "avg_days_late",
        "on_time_rate",
        "default_rate",
        "dso",
        "overdue_amount",
    ):
        assert key in body
    assert body["avg_days_to_pay"] == 35.0
    assert body["previous"]["from"] == "2026-10-02"
    assert body["previous"]["to"] == "2026-10-31"
    assert body["previous"]["invoices_due"] == 0


@pytest.mark.parametrize(
    "query", ["from=2026-13-01&to=2026-11-30", "from=2026-12-01&to=2026-11-01", "from=abc"]
)
def test_metrics_endpoint_refuses_bad_dates(api_a, query):
    assert api_a.get(f"/api/v1/metrics/?{query}").status_code == 400


def test_overdue_amount_leaves_out_cancelled_invoices(tenant_a):
    inv = InvoiceFactory(tenant=tenant_a, due_date=TODAY - timedelta(days=5))
    with scope(tenant=tenant_a):
        invoice_cancel(tenant=tenant_a, invoice=inv)
        m = metrics_compute(
            tenant=tenant_a, date_from=TODAY - timedelta(days=30), date_to=TODAY, today=TODAY
        )
    assert m["overdue_amount"] == "0.00"
    with scopes_disabled():
        assert Invoice.objects.get(pk=inv.pk).status == "cancelled"
