"""What a customer's message to the tenant means: a reply for the team, or an opt-out.

messaging records the inbound message and sends `hooks.inbound_received`; this matches the
sender's number to the tenant's customers. STOP, SAIR or PARAR (any case, alone in the message)
opts those customers out of the channel and confirms it once; anything else is a reply in the
customer's timeline and a task for an agent (one open reply task per customer at a time)."""

import re

from django.db.models import Q
from django.utils import timezone

from collections_app.activity.assignment import task_assigners
from collections_app.activity.followups import tasks_emit
from collections_app.models import (
    Customer,
    FollowUpTask,
    Interaction,
    InteractionKind,
    InvoiceMessage,
    TaskStatus,
)
from messaging.enqueue import messages_enqueue
from messaging.models import InboundMessage, Message, MessagePurpose
from tenants.models import Tenant
from tenants.selectors import tenant_today

OPT_OUT_WORDS = {"STOP", "SAIR", "PARAR"}
CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp"}
REPLY_TASK_TITLE = "Responder mensagem do cliente"


def is_opt_out(body: str) -> bool:
    return re.sub(r"[^\w]", "", body or "").upper() in OPT_OUT_WORDS


def inbound_handle(*, inbound: InboundMessage) -> None:
    tenant = inbound.tenant
    number, channel = inbound.sender, inbound.channel
    match = (
        Q(phone=number) if channel == "sms" else Q(whatsapp=number) | Q(whatsapp="", phone=number)
    )
    customers = list(Customer.objects.filter(match, tenant_id=tenant.pk).order_by("id"))
    if not customers:
        return  # an unknown number: the inbound record stays for the team to see
    if is_opt_out(inbound.body):
        _opt_out(tenant, inbound, customers)
    else:
        _reply(tenant, inbound, customers)


def _opt_out(tenant: Tenant, inbound: InboundMessage, customers: list[Customer]) -> None:
    channel = inbound.channel
    newly = [c for c in customers if channel not in (c.opted_out_channels or [])]
    for customer in newly:
        customer.opted_out_channels = [*(customer.opted_out_channels or []), channel]
        customer.save(update_fields=["opted_out_channels", "updated_at"])
        Interaction.objects.create(
            tenant=tenant,
            customer=customer,
            kind=InteractionKind.OPT_OUT,
            channel=channel,
            summary=f"{CHANNEL_NAMES[channel]}: pediu para não receber mais mensagens "
            f"(“{inbound.body.strip()[:40]}”)",
            data={"inbound": inbound.pk, "sender": inbound.sender},
        )
    if not newly:
        return  # confirmed already: a second STOP gets no second confirmation
    confirmation = Message.objects.create(
        tenant=tenant,
        channel=channel,
        recipient=inbound.sender,
        purpose=MessagePurpose.MANUAL,
        body=(
            f"{tenant.name}: pronto, você não receberá mais mensagens de cobrança por "
            f"{CHANNEL_NAMES[channel]}."
        ),
    )
    messages_enqueue(tenant=tenant, message_ids=[confirmation.pk])


def _reply(tenant: Tenant, inbound: InboundMessage, customers: list[Customer]) -> None:
    # The invoice the customer is most likely answering about: the last one messaged there.
    last_link = (
        InvoiceMessage.objects.filter(
            tenant_id=tenant.pk,
            message__recipient=inbound.sender,
            message__channel=inbound.channel,
            invoice__customer__in=customers,
        )
        .order_by("-message_id")
        .first()
    )
    assigner = None
    for customer in customers:
        invoice_id = (
            last_link.invoice_id
            if last_link and last_link.invoice.customer_id == customer.pk
            else None
        )
        Interaction.objects.create(
            tenant=tenant,
            customer=customer,
            invoice_id=invoice_id,
            kind=InteractionKind.REPLY,
            channel=inbound.channel,
            occurred_at=inbound.received_at,
            summary=f"{CHANNEL_NAMES[inbound.channel]}: {inbound.body.strip()}"[:300],
            data={"inbound": inbound.pk, "sender": inbound.sender},
        )
        if FollowUpTask.objects.filter(
            tenant_id=tenant.pk, customer=customer, origin="reply", status=TaskStatus.OPEN
        ).exists():
            continue
        if assigner is None:
            assigner = task_assigners(tenants=[tenant])[tenant.pk]
        task = FollowUpTask.objects.create(
            tenant=tenant,
            customer=customer,
            invoice_id=invoice_id,
            title=REPLY_TASK_TITLE,
            origin="reply",
            notes=inbound.body.strip()[:2000],
            due_on=tenant_today(tenant=tenant),
            assignee_id=assigner.next(),
            created_at=timezone.now(),
        )
        tasks_emit(tenant_id=tenant.pk, tasks=[task])
