"""An imported history: a paid date (and paid amount) records the payment under the same
domain rules as any payment, a disputed flag marks the invoice disputed, and none of it is
news — no thank-you, no reminder for a step already past (DESIGN invariants 5 and 10)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django_scopes import scope

from collections_app.engine import ladder_evaluate
from collections_app.imports.importer import guess_mapping, invoices_import, read_table
from collections_app.invoices.services import invoice_cancel
from collections_app.models import (
    DailyStat,
    Dispatch,
    FollowUpTask,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentPromise,
    PromiseStatus,
)
from collections_app.stats.selectors import metrics_compute
from messaging.models import Message, MessagePurpose, MessageStatus
from messaging.sending import message_send
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "Código;Código cliente;Cliente;E-mail;Valor;Emissão;Vencimento;Pago em;Valor pago;Contestada"
)
# The suite's Wednesday: the steps below are pinned to its calendar (no holiday near).
TODAY = date(2026, 12, 2)


def br(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def row(ext, due, *, paid="", paid_amount="", disputed="não", amount="100,00", issue=None):
    issue = issue or due - timedelta(days=30)
    customer = f"C-{ext}"
    return (
        f"{ext};{customer};Cliente {ext};{customer.lower()}@example.com;{amount};{br(issue)};"
        f"{br(due)};{paid};{paid_amount};{disputed}"
    )


def run_import(tenant, *lines, date_format="dmy"):
    headers, rows = read_table("h.csv", "\n".join([HEADER, *lines]).encode())
    with scope(tenant=tenant):
        return invoices_import(
            tenant=tenant,
            headers=headers,
            rows=rows,
            mapping=guess_mapping(headers),
            date_format=date_format,
        )


@pytest.mark.clock("2026-12-02T10:00-03:00")
def test_a_paid_date_records_the_payment_and_the_metrics_count_it_at_once(tenant_a):
    due = date(2026, 11, 18)  # a Wednesday (the 20th is a holiday: Consciência Negra)
    result = run_import(
        tenant_a,
        row("H-1", due, paid=br(date(2026, 11, 25))),  # paid 7 days late, in full
        row("H-2", due, paid="17/11/2026", paid_amount="40,00"),  # partly paid, early
        row("H-3", due, disputed="sim"),
    )
    assert result.errors == [] and (result.imported, result.payments) == (3, 2)
    with scope(tenant=tenant_a):
        h1, h2, h3 = (Invoice.objects.get(external_id=f"H-{n}") for n in (1, 2, 3))
        assert (h1.status, h1.amount_paid, h1.paid_on) == (
            InvoiceStatus.PAID,
            100,
            date(2026, 11, 25),
        )
        assert (h1.days_to_pay, h1.days_late) == (37, 7)
        assert (h2.status, h2.amount_paid, h2.paid_on) == (InvoiceStatus.OPEN, Decimal("40"), None)
        assert h3.disputed and not h1.disputed and h3.status == InvoiceStatus.OPEN
        payment = Payment.objects.get(invoice=h1)
        assert (payment.amount, payment.source) == (Decimal("100.00"), "import")
        assert payment.paid_at.hour == 15  # midday in São Paulo, kept in UTC
        assert Interaction.objects.filter(kind=InteractionKind.PAYMENT).count() == 2
        # The rollups were refreshed with the rest of the import: the dashboard counts it.
        figures = metrics_compute(
            tenant=tenant_a, date_from=date(2026, 11, 1), date_to=TODAY, today=TODAY
        )
        assert figures["invoices_due"] == 3 and figures["avg_days_late"] == 7
        assert Decimal(figures["overdue_amount"]) == Decimal("160.00")  # 60 + 100
        assert DailyStat.objects.filter(day=date(2026, 11, 25), paid_n=1).exists()
        assert not Message.objects.exists()


@pytest.mark.clock("2026-12-02T10:00-03:00")
def test_importing_the_same_history_again_records_nothing_twice(tenant_a):
    lines = [row("H-1", date(2026, 11, 20), paid="18/11/2026", paid_amount="40,00")]
    assert run_import(tenant_a, *lines).payments == 1
    again = run_import(tenant_a, *lines)
    assert (again.updated, again.payments) == (1, 0)
    with scope(tenant=tenant_a):
        assert Invoice.objects.get().amount_paid == Decimal("40.00")
    # The rest of the amount, paid later, is recorded when the next file says so.
    later = run_import(tenant_a, row("H-1", date(2026, 11, 20), paid="25/11/2026"))
    assert later.payments == 1
    with scope(tenant=tenant_a):
        invoice = Invoice.objects.get()
        assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, Decimal("100.00"))


@pytest.mark.clock("2026-12-02T10:00-03:00")
def test_imported_history_sends_nothing_for_steps_already_past(tenant_a):
    # The tenant was evaluated four days ago; the ladder runs again today, catching up.
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=TODAY - timedelta(days=4))
    # Control: an invoice Régua already knew, due last Friday, gets the missed D+3 (Monday).
    known = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 11, 27))
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=TODAY - timedelta(days=3))
    result = run_import(
        tenant_a,
        row("OPEN-PAST", date(2026, 11, 27)),  # its D+3 was on Monday
        row("PAID", date(2026, 12, 20), paid="01/12/2026"),  # paid yesterday
        row("DISPUTED", TODAY, disputed="sim"),  # due today, disputed
    )
    assert result.errors == [] and result.payments == 1
    call_command("run_ladders", "--tenant", tenant_a.slug, "--date", TODAY.isoformat())
    with scope(tenant=tenant_a):
        sent_about = set(
            Message.objects.values_list("invoice_links__invoice__external_id", flat=True)
        )
        assert sent_about == {known.external_id}  # the control did get its step
        assert not Message.objects.filter(purpose=MessagePurpose.THANK_YOU).exists()
        disputed = Dispatch.objects.get(invoice__external_id="DISPUTED")
        assert (disputed.status, disputed.reason) == ("skipped", "disputed")
        assert not Dispatch.objects.filter(invoice__external_id__in=["OPEN-PAST", "PAID"]).exists()


@pytest.mark.clock("2026-12-02T10:00-03:00")
def test_a_reminded_invoice_paid_by_import_stops_its_ladder_without_a_thank_you(tenant_a):
    invoice = InvoiceFactory(
        tenant=tenant_a,
        external_id="R-1",
        due_date=TODAY,
        customer={"external_id": "C-R-1", "name": "Cliente R-1", "email": "r1@example.com"},
    )
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=TODAY)
        [reminder] = Message.objects.all()
        message_send(tenant=tenant_a, message_id=reminder.pk)
        # A second reminder waiting in the queue, a promise and the ladder's call.
        ladder_evaluate(tenant=tenant_a, today=TODAY + timedelta(days=3))
        queued = Message.objects.filter(status=MessageStatus.QUEUED)
        assert queued.exists()
        PaymentPromise.objects.create(
            tenant=tenant_a, invoice=invoice, promised_date=TODAY + timedelta(days=1)
        )
        FollowUpTask.objects.create(
            tenant=tenant_a,
            customer_id=invoice.customer_id,
            invoice=invoice,
            title="Ligar",
            origin="step",
            due_on=TODAY,
        )
    result = run_import(
        tenant_a, row("R-1", TODAY, paid=br(TODAY), amount="1.000,00", issue=TODAY - timedelta(30))
    )
    assert result.errors == [] and result.payments == 1
    with scope(tenant=tenant_a):
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
        assert not Message.objects.filter(status=MessageStatus.QUEUED).exists()  # cancelled
        assert not Message.objects.filter(purpose=MessagePurpose.THANK_YOU).exists()
        assert PaymentPromise.objects.get().status == PromiseStatus.KEPT
        assert FollowUpTask.objects.get().status == "cancelled"
        payment = Payment.objects.get()
        assert payment.attributed_message_id == reminder.pk  # paid after the reminder


@pytest.mark.clock("2026-12-02T10:00-03:00")
def test_history_rows_that_cannot_be_true_are_errors_and_nothing_is_written(tenant_a):
    cancelled = InvoiceFactory(tenant=tenant_a, external_id="CANC", due_date=date(2026, 11, 16))
    with scope(tenant=tenant_a):
        invoice_cancel(tenant=tenant_a, invoice=cancelled)
    due = date(2026, 11, 16)
    result = run_import(
        tenant_a,
        row("OK", due, paid="15/11/2026"),
        row("FUTURE", due, paid="03/12/2026"),
        row("NO-DATE", due, paid_amount="10,00"),
        row("TOO-MUCH", due, paid="15/11/2026", paid_amount="150,00"),
        row("CANC", due, paid="15/11/2026"),
        row("SAYS-PAID", due, disputed="pago"),
        row("NOT-A-FLAG", due, disputed="talvez"),
    )
    errors = {(e.row, e.field): e.message for e in result.errors}
    assert errors == {
        (3, "paid_date"): "A data de pagamento está no futuro.",
        (4, "paid_amount"): "Um valor pago precisa da data de pagamento.",
        (5, "paid_amount"): "Mais do que o valor da fatura.",
        (6, "paid_date"): "A fatura está cancelada: nenhum pagamento pode ser registrado.",
        (7, "disputed"): "Diz que a fatura foi paga: escolha também a coluna da data de pagamento.",
        (8, "disputed"): "“talvez” não é sim ou não (use sim/não, yes/no, true/false ou 1/0).",
    }
    assert not result.written
    with scope(tenant=tenant_a):
        assert not Payment.objects.exists()
        assert list(Invoice.objects.values_list("external_id", flat=True)) == ["CANC"]
