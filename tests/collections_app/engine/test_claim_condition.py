"""The send guard's rule in SQL (`message_claim_condition`, ANDed into the send claim's UPDATE)
agrees with the rule in Python (`message_cancel_reason`) on every kind of stop: a message the
guard would stop is never claimed, and one it lets leave is never held back (which would leave
it queued for ever)."""

from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django_scopes import scope

from collections_app.engine import ladder_evaluate
from collections_app.engine.message_context import (
    message_cancel_reason,
    message_claim_condition,
    messages_prefetch,
)
from collections_app.models import Customer, Invoice, InvoiceMessage, LadderStep, PaymentPromise
from messaging.models import Message, MessagePurpose, MessageStatus
from messaging.tasks import send_messages
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.django_db, on_the_suite_day]

DAY = date(2026, 12, 2)
YESTERDAY, TOMORROW = DAY - timedelta(days=1), DAY + timedelta(days=1)


def queue(tenant, *, count: int = 1) -> Message:
    for k in range(count):
        InvoiceFactory(
            tenant=tenant,
            due_date=DAY,
            amount="500.00",
            customer={
                "external_id": "C",
                "name": "Maria",
                "phone": "+5511987654321",
                "preferred_channels": ["sms"],
            },
            external_id=f"INV-{k}",
        )
    with mock.patch.object(send_messages, "apply_async"), scope(tenant=tenant):
        ladder_evaluate(tenant=tenant, today=DAY)
        return Message.objects.get(status=MessageStatus.QUEUED)


def invoices_of(message):
    return Invoice.objects.filter(message_links__message=message).order_by("pk")


def first_invoice(message):
    return invoices_of(message).first()


def customer_of(message):
    return first_invoice(message).customer


def step_of(message):
    return InvoiceMessage.objects.filter(message=message).first().dispatch.step


def promise(message, promised, **kw):
    PaymentPromise.objects.create(
        tenant=message.tenant, invoice=first_invoice(message), promised_date=promised
    )


def set_invoice(**fields):
    return lambda m: invoices_of(m).update(**fields)


def set_customer(**fields):
    return lambda m: Customer.objects.filter(pk=customer_of(m).pk).update(**fields)


def set_step(**fields):
    return lambda m: LadderStep.objects.filter(pk=step_of(m).pk).update(**fields)


def both(*changes):
    def apply(m):
        for change in changes:
            change(m)

    return apply


def first_paid(m):
    Invoice.objects.filter(pk=first_invoice(m).pk).update(status="paid")


def unlinked(m):
    InvoiceMessage.objects.filter(message=m).delete()


CASES = [
    ("open", lambda m: None, None),
    ("paid", set_invoice(status="paid"), "invoice_paid"),
    ("cancelled", set_invoice(status="cancelled"), "invoice_cancelled"),
    ("disputed", set_invoice(disputed=True), "disputed"),
    ("invoice paused today", set_invoice(paused_until=DAY), "invoice_paused"),
    ("invoice paused until yesterday", set_invoice(paused_until=YESTERDAY), None),
    ("customer paused", set_customer(paused_until=TOMORROW), "customer_paused"),
    ("customer paused until yesterday", set_customer(paused_until=YESTERDAY), None),
    ("promise through today", lambda m: promise(m, DAY), "promise_open"),
    ("promise kept until yesterday", lambda m: promise(m, YESTERDAY), None),
    (
        "promise, step goes out regardless",
        both(lambda m: promise(m, TOMORROW), set_step(skip_while_promise=False)),
        None,
    ),
    ("below the step's minimum", set_step(min_amount=Decimal("600.00")), "below_min_amount"),
    ("at the step's minimum", set_step(min_amount=Decimal("500.00")), None),
    (
        "part paid below the minimum",
        both(set_step(min_amount=Decimal("400.00")), set_invoice(amount_paid=Decimal("200.00"))),
        "below_min_amount",
    ),
    ("opted out of SMS", set_customer(opted_out_channels=["email", "sms"]), "opted_out"),
    ("opted out of e-mail only", set_customer(opted_out_channels=["email"]), None),
    (
        "a thank-you about a paid invoice",
        both(
            set_invoice(status="paid"),
            lambda m: Message.objects.filter(pk=m.pk).update(purpose=MessagePurpose.THANK_YOU),
        ),
        None,
    ),
    (
        "a thank-you to a customer who left the channel",
        both(
            set_customer(opted_out_channels=["sms"]),
            lambda m: Message.objects.filter(pk=m.pk).update(purpose=MessagePurpose.THANK_YOU),
        ),
        "opted_out",
    ),
    ("a message about no invoice", unlinked, None),
]


@pytest.mark.parametrize(("change", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_claims_sql_condition_agrees_with_the_send_guard(tenant_a, change, reason):
    message = queue(tenant_a)
    with scope(tenant=tenant_a):
        change(message)
        message = Message.objects.get(pk=message.pk)
        messages_prefetch([message])
        allowed = Message.objects.filter(pk=message.pk).filter(message_claim_condition(tenant_a))
        assert message_cancel_reason(message) == reason
        assert allowed.exists() is (reason is None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [(first_paid, None), (set_invoice(status="paid"), "invoice_paid")],
    ids=["one of two paid", "both paid"],
)
def test_a_message_about_several_invoices_leaves_while_one_may_get_its_step(
    tenant_a, change, reason
):
    tenant_a.one_message_per_customer = True
    tenant_a.save()
    message = queue(tenant_a, count=2)
    with scope(tenant=tenant_a):
        assert invoices_of(message).count() == 2
        change(message)
        message = Message.objects.get(pk=message.pk)
        messages_prefetch([message])
        allowed = Message.objects.filter(pk=message.pk).filter(message_claim_condition(tenant_a))
        assert message_cancel_reason(message) == reason
        assert allowed.exists() is (reason is None)
