"""What follows a payment is one list (`payments/after_payment.py`): a live payment and an
imported history run the same follow-ups, in the same order, and do the same to the ladder —
the history without the thank-you and the `payment.received` webhook (DESIGN invariant 10)."""

from datetime import date, timedelta

import pytest
from django_scopes import scope

from collections_app.engine import ladder_evaluate
from collections_app.imports.payments import payments_import
from collections_app.models import (
    AgreementStatus,
    FollowUpTask,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    PaymentPromise,
    PromiseStatus,
    TaskStatus,
    WebhookDelivery,
    WebhookEvent,
)
from collections_app.payments.after_payment import PAYMENT_FOLLOW_UPS
from collections_app.payments.agreements import agreement_create
from collections_app.payments.services import (
    Recording,
    invoice_record_payment,
    payment_follow_ups_register,
)
from messaging.models import Message, MessagePurpose, MessageStatus
from messaging.sending import message_send
from tests.collections_app.factories import InvoiceFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 2)  # the suite's Wednesday


@pytest.fixture
def ran():
    """Each follow-up run, as (its name, the kind of recording, the invoices of the batch)."""
    calls = []

    def spy(follow_up):
        def run(recorded):
            invoices = tuple(f.invoice.pk for f in recorded.payments)
            calls.append((follow_up.__name__, recorded.recording, invoices))
            return follow_up(recorded)

        return run

    payment_follow_ups_register([spy(f) for f in PAYMENT_FOLLOW_UPS])
    yield calls
    payment_follow_ups_register(PAYMENT_FOLLOW_UPS)


def instalment_with_a_ladder_going(tenant, name):
    """An agreement's only instalment, due today: reminded (sent), a second reminder queued."""
    original = InvoiceFactory(
        tenant=tenant,
        due_date=TODAY - timedelta(days=20),
        amount="300.00",
        customer={"external_id": name, "name": name, "email": f"{name.lower()}@example.com"},
    )
    with scope(tenant=tenant):
        agreement = agreement_create(
            tenant=tenant,
            customer=original.customer,
            invoices=[original],
            instalments=1,
            first_due_date=TODAY,
            today=TODAY,
        )
        [instalment] = agreement.instalments.all()
        ladder_evaluate(tenant=tenant, today=TODAY)
        [reminder] = Message.objects.filter(invoice_links__invoice=instalment)
        message_send(tenant=tenant, message_id=reminder.pk)
        ladder_evaluate(tenant=tenant, today=TODAY + timedelta(days=3))
        [queued] = Message.objects.filter(
            invoice_links__invoice=instalment, status=MessageStatus.QUEUED
        )
    return {
        "agreement": agreement,
        "original": original,
        "instalment": instalment,
        "reminder": reminder,
        "queued": queued,
    }


def promise_and_call(tenant, story):
    """After every ladder has run (an evaluation resolves promises past their date)."""
    instalment = story["instalment"]
    with scope(tenant=tenant):
        PaymentPromise.objects.create(
            tenant=tenant, invoice=instalment, promised_date=TODAY + timedelta(days=1)
        )
        story["task"] = FollowUpTask.objects.create(
            tenant=tenant,
            customer_id=instalment.customer_id,
            invoice=instalment,
            title="Ligar",
            origin="step",
            due_on=TODAY,
        )


def what_followed(tenant, story):
    """What the payment of the story's instalment left behind."""
    instalment = story["instalment"]
    with scope(tenant=tenant):
        instalment.refresh_from_db()
        story["queued"].refresh_from_db()
        story["task"].refresh_from_db()
        story["agreement"].refresh_from_db()
        payment = instalment.payments.get()
        return {
            "status": instalment.status,
            "attributed_to": payment.attributed_message_id,
            "logged": Interaction.objects.filter(
                invoice=instalment, kind=InteractionKind.PAYMENT, data__payment_id=payment.pk
            ).count(),
            "reminder": (story["queued"].status, story["queued"].error),
            "promise": PaymentPromise.objects.get(invoice=instalment).status,
            "task": story["task"].status,
            "agreement": story["agreement"].status,
            "original": Invoice.objects.get(pk=story["original"].pk).status,
            "thank_you": Message.objects.filter(
                invoice_links__invoice=instalment, purpose=MessagePurpose.THANK_YOU
            ).count(),
            "payment.received": WebhookDelivery.objects.filter(
                event=WebhookEvent.PAYMENT_RECEIVED, dedupe_key=f"payment:{payment.pk}"
            ).count(),
        }


@pytest.mark.clock("2026-12-02T10:00-03:00")
def test_a_live_payment_and_an_imported_history_run_the_same_follow_ups(tenant_a, ran):
    WebhookEndpointFactory(tenant=tenant_a)
    live = instalment_with_a_ladder_going(tenant_a, "AO-VIVO")
    history = instalment_with_a_ladder_going(tenant_a, "HISTORICO")
    for story in (live, history):
        promise_and_call(tenant_a, story)  # an open promise and the ladder's call
    ran.clear()

    with scope(tenant=tenant_a):
        invoice_record_payment(
            tenant=tenant_a, invoice=live["instalment"], amount=live["instalment"].amount
        )
        assert payments_import(tenant=tenant_a, items=[(history["instalment"], TODAY, None)]) == 1

    names = [f.__name__ for f in PAYMENT_FOLLOW_UPS]
    for story, recording in ((live, Recording.LIVE), (history, Recording.HISTORY)):
        batch = (story["instalment"].pk,)
        assert [name for name, kind, of in ran if (kind, of) == (recording, batch)] == names
    # The agreements' completion settled the replaced invoices with live payments of their own.
    settled = {of for _name, kind, of in ran if kind == Recording.LIVE} - {(live["instalment"].pk,)}
    assert settled == {(live["original"].pk,), (history["original"].pk,)}

    both = {
        "status": InvoiceStatus.PAID,
        "logged": 1,
        "reminder": (MessageStatus.CANCELLED, "invoice_paid"),
        "promise": PromiseStatus.KEPT,
        "task": TaskStatus.CANCELLED,
        "agreement": AgreementStatus.COMPLETED,
        "original": InvoiceStatus.PAID,
    }
    assert what_followed(tenant_a, live) == {
        **both,
        "attributed_to": live["reminder"].pk,
        "thank_you": 1,
        "payment.received": 1,
    }
    assert what_followed(tenant_a, history) == {
        **both,
        "attributed_to": history["reminder"].pk,
        "thank_you": 0,  # history is not news
        "payment.received": 0,
    }
