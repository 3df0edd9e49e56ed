"""The data subject's rights under the LGPD (Lei Geral de Proteção de Dados): a customer's data
exported as one JSON document, and their personal data erased.

Erasure anonymises, it does not delete: the invoices, payments and agreements stay, because the
law requires the financial records to be kept (and the tenant's figures must not change). What
identifies or describes the person goes: name, CPF/CNPJ, e-mail, phones, tags; the addresses
and texts of the messages sent to them and received from them; the free texts of the timeline
(notes, calls, replies, promises' and tasks' notes); payment proofs (files deleted). The
customer's opt-outs are kept, so nothing is ever sent to them again."""

from django.db import transaction
from django.utils import timezone

from collections_app.models import (
    Customer,
    FollowUpTask,
    Interaction,
    InteractionKind,
    Invoice,
    Payment,
    PaymentClaim,
    PaymentPromise,
)
from messaging.models import InboundMessage, Message
from tenants.models import Tenant

ERASED = "(apagado)"


def customer_export(*, customer: Customer) -> dict:
    """Everything Régua holds about the customer, as JSON-ready data."""
    invoices = list(Invoice.objects.filter(customer=customer).order_by("id"))
    invoice_ids = [i.pk for i in invoices]
    messages = Message.objects.filter(invoice_links__invoice_id__in=invoice_ids).distinct()
    addresses = {a for a in (customer.phone, customer.whatsapp) if a}
    return {
        "exported_at": timezone.now().isoformat(),
        "customer": {
            "external_id": customer.external_id,
            "name": customer.name,
            "document": customer.document,
            "email": customer.email,
            "phone": customer.phone,
            "whatsapp": customer.whatsapp,
            "preferred_channels": customer.preferred_channels,
            "opted_out_channels": customer.opted_out_channels,
            "tags": customer.tags,
            "segment": customer.segment.name if customer.segment_id else None,
            "created_at": customer.created_at.isoformat(),
        },
        "invoices": [
            {
                "external_id": i.external_id,
                "number": i.number,
                "amount": str(i.amount),
                "amount_paid": str(i.amount_paid),
                "issue_date": i.issue_date.isoformat(),
                "due_date": i.due_date.isoformat(),
                "status": i.status,
            }
            for i in invoices
        ],
        "payments": [
            {"invoice": p.invoice.external_id, "amount": str(p.amount), "paid_at": p.paid_at}
            for p in Payment.objects.filter(invoice_id__in=invoice_ids).select_related("invoice")
        ],
        "promises": [
            {"invoice": p.invoice.external_id, "date": p.promised_date, "status": p.status}
            for p in PaymentPromise.objects.filter(invoice_id__in=invoice_ids).select_related(
                "invoice"
            )
        ],
        "messages_sent": [
            {
                "channel": m.channel,
                "to": m.recipient,
                "subject": m.subject,
                "body": m.body,
                "status": m.status,
                "sent_at": m.sent_at,
            }
            for m in messages.order_by("id")
        ],
        "messages_received": [
            {"channel": m.channel, "from": m.sender, "body": m.body, "at": m.received_at}
            for m in InboundMessage.objects.filter(sender__in=addresses).order_by("id")
        ],
        "timeline": [
            {"at": i.occurred_at, "kind": i.kind, "channel": i.channel, "summary": i.summary}
            for i in Interaction.objects.filter(customer=customer).order_by("occurred_at", "id")
        ],
    }


def customer_erase(*, tenant: Tenant, customer: Customer, actor) -> Customer:
    """Anonymise the customer's personal data (see the module's docstring), in one
    transaction, and record that it was done (by whom, not what)."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        addresses = {a for a in (customer.email, customer.phone, customer.whatsapp) if a}
        invoice_ids = list(Invoice.objects.filter(customer=customer).values_list("id", flat=True))
        Message.objects.filter(invoice_links__invoice_id__in=invoice_ids).update(
            recipient=ERASED, subject="", body="", error=""
        )
        InboundMessage.objects.filter(sender__in=addresses).update(sender=ERASED, body="")
        for claim in PaymentClaim.objects.filter(invoice_id__in=invoice_ids):
            if claim.proof:
                claim.proof.delete(save=False)
            claim.proof_name, claim.note = "", ""
            claim.save(update_fields=["proof", "proof_name", "note"])
        Interaction.objects.filter(customer=customer).update(summary=ERASED, data={})
        FollowUpTask.objects.filter(customer=customer).update(notes="")
        customer.name = f"Titular removido #{customer.pk}"
        customer.document = ""
        customer.email = customer.phone = customer.whatsapp = ""
        customer.tags = []
        customer.save(
            update_fields=["name", "document", "email", "phone", "whatsapp", "tags", "updated_at"]
        )
        Interaction.objects.create(
            tenant=tenant,
            customer=customer,
            kind=InteractionKind.NOTE,
            actor=actor,
            summary="Dados pessoais apagados a pedido do titular (LGPD)",
            data={"erased": True},
        )
    return customer
