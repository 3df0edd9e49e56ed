"""The data subject's rights under the LGPD (Lei Geral de Proteção de Dados): a customer's data
exported as one JSON document, and their personal data erased.

Erasure anonymises, it does not delete: the invoices, payments and agreements stay, because the
law requires the financial records to be kept (and the tenant's figures must not change). What
identifies or describes the person goes: name, CPF/CNPJ, e-mail, phones, tags; the addresses
and texts of the messages sent to them and received from them; the free texts of the timeline
(notes, calls, replies, promises' and tasks' notes); payment proofs (files deleted). The
customer's opt-outs are kept, so nothing is ever sent to them again.

Copies of the identifiers elsewhere go too, wherever they were written (`identifiers`): in the
tenant's outbound webhook deliveries (payloads and errors), spreadsheet imports (file kept for
a re-run, sample rows, column names, error report and errors shown), bank credits (the bank's
description; review reasons), task titles and invoice descriptions; the API answers kept for
`Idempotency-Key` retries that mention them are dropped."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from collections_app.exports.identifiers import PersonalIdentifiers
from collections_app.imports.jobs import import_file_drop, import_file_read
from collections_app.imports.spreadsheets import ImportFileError, read_table
from collections_app.models import (
    BankCredit,
    Customer,
    FollowUpTask,
    ImportJob,
    Interaction,
    InteractionKind,
    Invoice,
    Payment,
    PaymentClaim,
    PaymentPromise,
    WebhookDelivery,
)
from messaging.models import InboundMessage, Message
from tenants.idempotency import idempotent_answers_drop
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
    """Anonymise the customer's personal data and its copies (see the module's docstring), in
    one transaction, and record that it was done (by whom, not what). Erasing again is
    harmless."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        addresses = {a for a in (customer.email, customer.phone, customer.whatsapp) if a}
        person = PersonalIdentifiers(
            names=[customer.name],
            documents=[customer.document],
            emails=[customer.email],
            phones=[customer.phone, customer.whatsapp],
            replacement=ERASED,
        )
        invoice_ids = list(Invoice.objects.filter(customer=customer).values_list("id", flat=True))
        theirs = Q(customer=customer) | Q(invoice_id__in=invoice_ids)
        Message.objects.filter(
            Q(invoice_links__invoice_id__in=invoice_ids) | Q(recipient__in=addresses)
        ).update(recipient=ERASED, subject="", body="", error="")
        InboundMessage.objects.filter(sender__in=addresses).update(sender=ERASED, body="")
        for claim in PaymentClaim.objects.filter(invoice_id__in=invoice_ids):
            if claim.proof:
                claim.proof.delete(save=False)
            claim.proof_name, claim.note = "", ""
            claim.save(update_fields=["proof", "proof_name", "note"])
        Interaction.objects.filter(theirs).update(summary=ERASED, data={})
        FollowUpTask.objects.filter(theirs).update(notes="")
        _scrub_rows(FollowUpTask.objects.filter(theirs), person, ["title"])
        _scrub_rows(Invoice.objects.filter(pk__in=invoice_ids), person, ["description"])
        BankCredit.objects.filter(invoice_id__in=invoice_ids).exclude(description="").update(
            description=ERASED
        )
        _scrub_rows(
            BankCredit.objects.filter(tenant=tenant), person, ["description", "review_reason"]
        )
        _scrub_rows(
            WebhookDelivery.objects.filter(tenant=tenant), person, ["payload", "last_error"]
        )
        _import_jobs_scrub(tenant, person)
        idempotent_answers_drop(tenant=tenant, mentions=person.mentions)
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


def _scrub_rows(queryset, person: PersonalIdentifiers, fields: list[str]) -> None:
    """Replace the person's identifiers in these text or JSON fields of the queryset's rows
    (the caller filters them to the tenant's), writing only the rows that change."""
    model = queryset.model
    for pk, *values in queryset.values_list("pk", *fields).iterator(chunk_size=2000):
        scrubbed = [person.scrub_json(v) for v in values]
        if scrubbed != values:
            model.objects.filter(pk=pk).update(**dict(zip(fields, scrubbed, strict=True)))


def _import_jobs_scrub(tenant: Tenant, person: PersonalIdentifiers) -> None:
    """An import's kept file is dropped when one of its cells mentions the person (the import
    can no longer be run again: it must be uploaded again); what the job shows of its rows is
    scrubbed."""
    for job in ImportJob.objects.filter(tenant=tenant):
        content = import_file_read(job)
        if content:
            try:
                headers, rows = read_table(job.filename, content)
            except ImportFileError:  # a file that no longer reads cannot be re-run either
                headers, rows = [], [[content.decode("utf-8", "replace")]]
            if any(person.mentions(str(cell)) for row in [headers, *rows] for cell in row):
                import_file_drop(job)
        fields = ["filename", "headers", "sample", "errors_report", "first_errors", "failure"]
        for field in fields:
            setattr(job, field, person.scrub_json(getattr(job, field)))
        job.save(update_fields=fields)
