"""The dashboard's rollups agree with the metrics computed straight from the invoices, after
every kind of write: invoices created and changed, payments (partial, full, late, over),
cancellations, agreements made and broken, customers moving between segments."""

import random
from datetime import datetime, time, timedelta
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django_scopes import scope

from collections_app.engine import forecast as explain
from collections_app.engine import ladder_evaluate
from collections_app.engine.message_context import payment_url
from collections_app.invoices.segments import segments_assign
from collections_app.invoices.services import customers_upsert, invoice_cancel, invoices_upsert
from collections_app.models import (
    Customer,
    DailyStat,
    FunnelStat,
    Invoice,
    Ladder,
    LadderStep,
    Segment,
)
from collections_app.payments.agreements import agreement_break, agreement_create
from collections_app.payments.services import invoice_record_payment
from collections_app.stats.rollups import funnel_rebuild
from collections_app.stats.selectors import metrics_compute, recovery_by_month, recovery_by_step
from messaging.delivery import message_status_report
from messaging.models import Message
from messaging.sending import message_send
from tenants.selectors import tenant_today
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory
from tests.metrics_oracle import metrics_from_invoices

pytestmark = pytest.mark.django_db


def periods(today):
    return [
        (today - timedelta(days=29), today),
        (today - timedelta(days=120), today - timedelta(days=30)),
        (today - timedelta(days=400), today + timedelta(days=60)),
    ]


def assert_agree(tenant, today, segment_ids=(None,)):
    for segment_id in segment_ids:
        for date_from, date_to in periods(today):
            args = {
                "tenant": tenant,
                "date_from": date_from,
                "date_to": date_to,
                "today": today,
                "segment_id": segment_id,
            }
            assert metrics_compute(**args) == metrics_from_invoices(**args), (segment_id, date_from)


def test_rollups_follow_every_write(tenant_a):
    rng = random.Random(7)
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        ladder = Ladder.objects.get(is_default=True)
        big = Segment.objects.create(
            tenant=tenant_a,
            name="Grandes",
            priority=1,
            rule={"kind": "amount_at_least", "value": "3000"},
            ladder=ladder,
        )
        items = []
        for k in range(120):
            due = today - timedelta(days=rng.randint(-40, 300))
            items.append(
                {
                    "external_id": f"INV-{k}",
                    "amount": Decimal(rng.randint(100, 900_000)) / 100,
                    "issue_date": due - timedelta(days=rng.randint(0, 60)),
                    "due_date": due,
                    "customer": {"external_id": f"C-{k % 25}", "name": f"Cliente {k % 25}"},
                }
            )
        invoices = [inv for inv, _ in invoices_upsert(tenant=tenant_a, items=items)]
        assert_agree(tenant_a, today)

        # Payments: full on time, full late, partial, over; then a cancellation.
        for invoice in invoices[:60]:
            invoice.refresh_from_db()
            share = rng.choice((Decimal("1"), Decimal("0.5"), Decimal("1.2")))
            paid_at_day = min(today, invoice.effective_due_date + timedelta(rng.randint(-5, 40)))

            paid_at = datetime.combine(paid_at_day, time(12), tzinfo=ZoneInfo(tenant_a.timezone))
            invoice_record_payment(
                tenant=tenant_a,
                invoice=invoice,
                amount=(invoice.amount * share).quantize(Decimal("0.01")),
                paid_at=min(paid_at, paid_at.now(paid_at.tzinfo)),
                thank_you=False,
            )
        for invoice in invoices[60:70]:
            invoice.refresh_from_db()
            invoice_cancel(tenant=tenant_a, invoice=invoice)
        assert_agree(tenant_a, today)

        # An invoice changes amount and due date (the old day must be recomputed too).
        invoices_upsert(
            tenant=tenant_a,
            items=[
                {
                    "external_id": "INV-80",
                    "amount": Decimal("4321.00"),
                    "due_date": today - timedelta(days=3),
                }
            ],
        )
        assert_agree(tenant_a, today)

        # Customers move into the segment (the daily evaluation does this), and one by hand.
        segments_assign(tenant=tenant_a)
        customers_upsert(tenant=tenant_a, items=[{"external_id": "C-3", "segment": big}])
        assert_agree(tenant_a, today, segment_ids=(None, big.pk))

        # An agreement replaces a customer's open invoices, then breaks.
        customer = Customer.objects.get(external_id="C-7")
        open_ones = list(customer.invoices.filter(status="open"))
        if open_ones:
            agreement = agreement_create(
                tenant=tenant_a,
                customer=customer,
                invoices=open_ones,
                instalments=3,
                first_due_date=today,
                today=today,
            )
            assert_agree(tenant_a, today, segment_ids=(None, big.pk))
            first = agreement.instalments.order_by("due_date").first()
            invoice_record_payment(tenant=tenant_a, invoice=first, amount=first.amount)
            agreement_break(tenant=tenant_a, agreement=agreement)
        assert_agree(tenant_a, today, segment_ids=(None, big.pk))

        # The recovery chart reads the same rows.
        months = recovery_by_month(tenant=tenant_a, months=6, today=today)
        assert len(months) == 6 and all(m["late_amount"] >= "0" for m in months)

        # Rebuilding from scratch gives the same rows the writes left.
        before = sorted(
            DailyStat.objects.values_list("segment_id", "day", "due_n", "open_remaining")
        )
    call_command("rebuild_stats", "--tenant", tenant_a.slug)
    with scope(tenant=tenant_a):
        after = sorted(
            DailyStat.objects.values_list("segment_id", "day", "due_n", "open_remaining")
        )
    assert before == after


def test_another_tenants_invoices_never_reach_this_tenants_rollups(tenant_a, tenant_b):
    today = tenant_today(tenant=tenant_a)
    for tenant, amount in ((tenant_a, "100.00"), (tenant_b, "900.00")):
        with scope(tenant=tenant):
            invoices_upsert(
                tenant=tenant,
                items=[
                    {
                        "external_id": "X",
                        "amount": Decimal(amount),
                        "issue_date": today - timedelta(days=40),
                        "due_date": today - timedelta(days=10),
                        "customer": {"external_id": "C", "name": "C"},
                    }
                ],
            )
    with scope(tenant=tenant_a):
        metrics = metrics_compute(
            tenant=tenant_a, date_from=today - timedelta(days=29), date_to=today, today=today
        )
    assert metrics["overdue_amount"] == "100.00"


@on_the_suite_day  # an invoice due today gets its D0 today: a business day
def test_the_funnel_counts_each_first_event_once_and_matches_a_rebuild(tenant_a, client):

    today = tenant_today(tenant=tenant_a)
    for k in range(4):
        InvoiceFactory(
            tenant=tenant_a,
            due_date=today,
            amount=f"{100 + k}.00",
            customer={
                "external_id": f"S{k}",
                "name": f"S{k}",
                "phone": f"+551190000000{k}",
                "preferred_channels": ["sms"],
            },
        )
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=today)
        messages = list(Message.objects.filter(channel="sms").order_by("id"))
        for message in messages:
            message_send(tenant=tenant_a, message_id=message.pk)
            message_send(tenant=tenant_a, message_id=message.pk)  # a redelivery: no second send
        for message in messages[:3]:
            message.refresh_from_db()
            for status in ("delivered", "read", "delivered"):  # replays and late reports
                message_status_report(
                    tenant=tenant_a, status=status, provider_message_id=message.provider_message_id
                )
        clicked = messages[0]
        invoice = Invoice.objects.get(message_links__message=clicked)
        url = payment_url(invoice, clicked).split("testserver")[-1]
    for _ in range(2):  # two visits: one click in the funnel
        client.get(url[url.index("/p/") :])
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=invoice.amount)
        [row] = recovery_by_step(tenant=tenant_a, date_from=today, date_to=today)
        counted = sorted(
            FunnelStat.objects.values_list(
                "day",
                "step_id",
                "channel",
                "segment_id",
                "sent",
                "delivered",
                "clicked",
                "paid",
                "recovered",
            )
        )
        funnel_rebuild(tenant_id=tenant_a.pk)
        rebuilt = sorted(
            FunnelStat.objects.values_list(
                "day",
                "step_id",
                "channel",
                "segment_id",
                "sent",
                "delivered",
                "clicked",
                "paid",
                "recovered",
            )
        )
    assert (row["sent"], row["delivered"], row["clicked"], row["payments"]) == (4, 3, 1, 1)
    assert row["recovered_amount"] == f"{invoice.amount:.2f}" and row["step"] == "D0"
    assert counted == rebuilt


def test_the_cached_forecast_follows_ladder_edits_and_payments(tenant_a):

    today = tenant_today(tenant=tenant_a)
    invoice = InvoiceFactory(tenant=tenant_a, due_date=today + timedelta(days=5), amount="300.00")
    with scope(tenant=tenant_a):
        with mock.patch.object(explain, "tenant_forecast", wraps=explain.tenant_forecast) as run:
            first = explain.tenant_forecast_cached(tenant=tenant_a, start=today, days=14)
            again = explain.tenant_forecast_cached(tenant=tenant_a, start=today, days=14)
            assert run.call_count == 1 and again == first  # the second came from the cache
            step = LadderStep.objects.filter(active=True).order_by("offset_days").first()
            step.active = False
            step.save()
            explain.tenant_forecast_cached(tenant=tenant_a, start=today, days=14)
            assert run.call_count == 2  # a ladder edit shows at once
            invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=Decimal("300.00"))
            paid = explain.tenant_forecast_cached(tenant=tenant_a, start=today, days=14)
            assert run.call_count == 3  # so does a payment
    assert paid["totals"]["messages"] <= first["totals"]["messages"]
