"""An imported payment: never in the future, a file's paid amount read as the total paid so
far (ERPs export the running total), and an amount paid meanwhile by the API, Pix or a bank
file counted, never overwritten."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_scopes import scope

from collections_app.imports.payments import payments_import
from collections_app.models import Invoice, InvoiceStatus, Payment, PaymentSource
from collections_app.payments.services import invoice_record_payment
from tests.collections_app.factories import InvoiceFactory
from tests.collections_app.imports.test_import_history import row, run_import

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")


@pytest.mark.clock("2026-12-02T09:00-03:00")
def test_a_payment_dated_today_imported_before_midday_is_not_in_the_future(tenant_a):
    result = run_import(tenant_a, row("P-1", date(2026, 11, 30), paid="02/12/2026"))
    assert result.errors == [] and result.payments == 1
    with scope(tenant=tenant_a):
        payment = Payment.objects.get()
        invoice = Invoice.objects.get()
    assert payment.paid_at <= timezone.now()
    assert payment.paid_at.astimezone(SP).date() == date(2026, 12, 2)
    assert payment.paid_at < datetime(2026, 12, 2, 10, 0, tzinfo=SP)  # the import's moment
    assert invoice.paid_at <= timezone.now() and invoice.paid_on == date(2026, 12, 2)


@pytest.mark.clock("2026-12-02T15:00-03:00")
def test_an_earlier_day_is_still_recorded_at_its_midday(tenant_a):
    run_import(tenant_a, row("P-1", date(2026, 11, 30), paid="01/12/2026"))
    with scope(tenant=tenant_a):
        assert Payment.objects.get().paid_at == datetime(2026, 12, 1, 12, 0, tzinfo=SP)


@pytest.mark.clock("2026-12-02T12:00-03:00")
def test_a_cumulative_paid_amount_records_only_what_is_new(tenant_a):
    due = date(2026, 11, 30)
    november = run_import(tenant_a, row("P-1", due, paid="10/11/2026", paid_amount="50,00"))
    december = run_import(tenant_a, row("P-1", due, paid="01/12/2026", paid_amount="80,00"))
    again = run_import(tenant_a, row("P-1", due, paid="01/12/2026", paid_amount="80,00"))
    assert (november.payments, december.payments, again.payments) == (1, 1, 0)
    with scope(tenant=tenant_a):
        invoice = Invoice.objects.get()
        amounts = sorted(Payment.objects.values_list("amount", flat=True))
    assert amounts == [Decimal("30.00"), Decimal("50.00")]
    assert invoice.amount_paid == Decimal("80.00") and invoice.status == InvoiceStatus.OPEN


@pytest.mark.clock("2026-12-02T12:00-03:00")
def test_a_payment_recorded_meanwhile_is_counted_not_overwritten(tenant_a):
    with scope(tenant=tenant_a):
        invoice = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 11, 30), amount="100.00")
        stale = Invoice.objects.get(pk=invoice.pk)  # as the import read it
        invoice_record_payment(
            tenant=tenant_a, invoice=invoice, amount=Decimal("30.00"), thank_you=False
        )
        # The file says 50,00 paid in total, of which Régua already has 30,00 (by Pix).
        assert payments_import(tenant=tenant_a, items=[(stale, date(2026, 12, 1), Decimal(50))])
        invoice.refresh_from_db()
        assert invoice.amount_paid == Decimal("50.00") and invoice.status == InvoiceStatus.OPEN
        imported = Payment.objects.get(source=PaymentSource.IMPORT)
        assert imported.amount == Decimal("20.00")
        # Then a file that says it was paid in full: the rest, and the invoice is paid.
        stale = Invoice.objects.get(pk=invoice.pk)
        invoice_record_payment(
            tenant=tenant_a, invoice=invoice, amount=Decimal("10.00"), thank_you=False
        )
        payments_import(tenant=tenant_a, items=[(stale, date(2026, 12, 2), None)])
        invoice.refresh_from_db()
        assert invoice.amount_paid == Decimal("100.00") and invoice.status == InvoiceStatus.PAID
        assert sum(Payment.objects.values_list("amount", flat=True)) == Decimal("100.00")
