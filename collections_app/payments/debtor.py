"""What a debtor does on the payment page, each recorded in the team's timeline: say it is
already paid, promise a date, ask for instalments, leave a channel — and prove who they are
before seeing their other invoices: the first characters of their CPF/CNPJ, or an access link
sent to their own e-mail or mobile number (`debtor_access_link_send`), which nobody else can
take from them."""

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from collections_app.activity.followups import followup_task_create
from collections_app.activity.messages import cancel_queued_reminders
from collections_app.activity.timeline import interaction_log
from collections_app.models import (
    Agreement,
    Customer,
    FollowUpTask,
    InteractionKind,
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    PaymentClaim,
)
from collections_app.money import format_day
from collections_app.payments.agreements import AgreementError, agreement_create
from collections_app.payments.promises import PromiseError, promise_create
from messaging.enqueue import messages_enqueue
from messaging.models import Channel, Message, MessagePurpose
from tenants.models import Tenant

CHANNEL_NAMES = {"email": "E-mail", "sms": "SMS", "whatsapp": "WhatsApp"}
# The first characters of the CPF/CNPJ a debtor types to see their other invoices.
IDENTITY_CHARS = 5
PROOF_TYPES = {
    b"%PDF": ("pdf", "application/pdf"),
    b"\x89PNG": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
}


class DebtorError(ValueError):
    """A debtor's request that cannot be accepted, with the reason in their language."""


def identity_matches(customer: Customer, typed: str) -> bool:
    """Whether `typed` is the first IDENTITY_CHARS characters of the customer's CPF/CNPJ, or
    the whole of it (punctuation and case ignored). A customer without a document cannot be
    confirmed."""
    document = (customer.document or "").upper()
    given = "".join(ch for ch in typed.upper() if ch.isalnum())
    if len(document) < IDENTITY_CHARS:
        return False
    if len(given) == len(document):
        return secrets.compare_digest(document, given)
    if len(given) != IDENTITY_CHARS:
        return False
    return secrets.compare_digest(document[:IDENTITY_CHARS], given)


# The access link: signed with the site's key, naming the tenant and the customer, valid a day
# (it may wait for the tenant's send window before it leaves).
ACCESS_SALT = "regua.payment-page.access"
ACCESS_MAX_AGE = 24 * 3600


def access_token(*, customer: Customer) -> str:
    """The signed, expiring token of an access link to the customer's invoices."""
    return signing.dumps([customer.tenant_id, customer.pk], salt=ACCESS_SALT)


def access_token_customer_id(token: str, *, tenant_id: int) -> int | None:
    """The customer an access token names, if it is authentic, unexpired and of this tenant."""
    try:
        token_tenant, customer_id = signing.loads(token, salt=ACCESS_SALT, max_age=ACCESS_MAX_AGE)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    return customer_id if token_tenant == tenant_id else None


def _masked(address: str) -> str:
    """Enough of an address for its owner to recognise it: a***@example.com, ••••4321."""
    if "@" in address:
        name, domain = address.split("@", 1)
        return f"{name[:1]}***@{domain}"
    return f"••••{address[-4:]}"


def debtor_access_link_send(*, tenant: Tenant, invoice: Invoice, url: str) -> str:
    """Send `url` (the payment page with an access token) to the customer's own e-mail, or
    their mobile number by SMS, as a message about the invoice (in its timeline; the send
    window, opt-outs and limits of any message apply). Returns the address, masked, to tell
    the debtor where to look. Raises DebtorError when the customer has neither."""
    customer = invoice.customer
    channel = next((c for c in (Channel.EMAIL, Channel.SMS) if customer.address_for(c)), None)
    if channel is None:
        raise DebtorError(
            _("We have no e-mail or mobile number of yours to send a link to: contact %(name)s.")
            % {"name": tenant.name}
        )
    address = customer.address_for(channel)
    with transaction.atomic():
        message = Message.objects.create(
            tenant=tenant,
            channel=channel,
            recipient=address,
            purpose=MessagePurpose.MANUAL,
            subject=_("Your access link") if channel == Channel.EMAIL else "",
            body=_(
                "%(company)s: to see your open invoices, open %(url)s — the link is valid for "
                "24 hours. If you did not ask for it, ignore this message."
            )
            % {"company": tenant.name, "url": url},
        )
        InvoiceMessage.objects.create(tenant=tenant, invoice=invoice, message=message)
        interaction_log(
            tenant=tenant,
            customer_id=customer.pk,
            invoice=invoice,
            message=message,
            kind=InteractionKind.MESSAGE,
            channel=channel,
            summary=f"Link de acesso às faturas enviado ao cliente ({channel}), pedido na "
            "página de pagamento",
            data={"access_link": True},
        )
        messages_enqueue(tenant=tenant, message_ids=[message.pk])
    return _masked(address)


def _task(tenant: Tenant, invoice: Invoice, *, title: str, origin: str, notes: str = ""):
    return followup_task_create(
        tenant=tenant,
        customer_id=invoice.customer_id,
        invoice=invoice,
        title=title,
        origin=origin,
        notes=notes,
    )


def _proof_kind(proof: UploadedFile) -> tuple[str, str]:
    if proof.size > settings.PAYMENT_PROOF_MAX_BYTES:
        raise DebtorError(_("The file is too large (at most 5 MB)."))
    head = proof.read(8)
    proof.seek(0)
    for magic, kind in PROOF_TYPES.items():
        if head.startswith(magic):
            return kind
    raise DebtorError(_("Send the proof as a PDF, PNG or JPEG file."))


def debtor_claim_paid(
    *, tenant: Tenant, invoice: Invoice, today: date, note: str = "", proof=None
) -> PaymentClaim:
    """ "I already paid": recorded with the optional proof, a task for an agent to check, and
    the invoice's reminders paused `paid_claim_pause_days` days meanwhile."""
    if invoice.status != InvoiceStatus.OPEN:
        raise DebtorError(_("This invoice has nothing left to pay."))
    extension = None
    if proof:
        extension, _content_type = _proof_kind(proof)
    with transaction.atomic():
        claim = PaymentClaim(tenant=tenant, invoice=invoice, note=note.strip()[:500])
        if proof:
            claim.proof_name = (proof.name or "")[:200]
            claim.proof.save(f"{secrets.token_urlsafe(16)}.{extension}", proof, save=False)
        claim.save()
        until = today + timedelta(days=tenant.paid_claim_pause_days)
        if not invoice.paused_until or invoice.paused_until < until:
            invoice.paused_until = until
            invoice.save(update_fields=["paused_until", "updated_at"])
        cancel_queued_reminders(tenant=tenant, invoice=invoice, reason="invoice_paused")
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=InteractionKind.PAYMENT_CLAIM,
            summary=(
                "Cliente diz que já pagou"
                + (" (enviou comprovante)" if proof else "")
                + (f": “{claim.note}”" if claim.note else "")
                + f" — lembretes pausados até {format_day(until, tenant.locale)}"
            ),
            data={
                "claim_id": claim.pk,
                "paused_until": until.isoformat(),
                "proof": bool(claim.proof),
            },
        )
        claim.task = _task(
            tenant,
            invoice,
            title=f"Conferir pagamento informado pelo cliente: {invoice}",
            origin="payment_claim",
            notes=claim.note,
        )
        claim.save(update_fields=["task"])
    return claim


def debtor_promise(*, tenant: Tenant, invoice: Invoice, promised_date: date, today: date):
    """ "I need more time": a promise to pay by `promised_date` (the ladder pauses until then)."""
    try:
        return promise_create(
            tenant=tenant,
            invoice=invoice,
            promised_date=promised_date,
            today=today,
            source="debtor",
        )
    except PromiseError as exc:
        raise DebtorError(str(exc)) from exc


@dataclass(frozen=True)
class InstalmentAnswer:
    agreement: Agreement | None = None  # agreed at once (self-service)
    task: FollowUpTask | None = None  # or handed to the team, with the reason
    reason: str = ""


def debtor_request_instalments(
    *, tenant: Tenant, invoice: Invoice, count: int, first_due_date: date, today: date
) -> InstalmentAnswer:
    """Instalments for this invoice: agreed at once within the tenant's self-service rules;
    otherwise the request goes to the team as a task (and the debtor is told so)."""
    if invoice.status != InvoiceStatus.OPEN:
        raise DebtorError(_("This invoice has nothing left to pay."))
    try:
        agreement = agreement_create(
            tenant=tenant,
            customer=invoice.customer,
            invoices=[invoice],
            instalments=count,
            first_due_date=first_due_date,
            today=today,
            source="debtor",
        )
        return InstalmentAnswer(agreement=agreement)
    except AgreementError as exc:
        reason = str(exc)
    with transaction.atomic():
        task = _task(
            tenant,
            invoice,
            title=f"Cliente pediu parcelamento de {invoice} em {count}x",
            origin="instalments",
            notes=(
                f"{count} parcelas, 1º vencimento {format_day(first_due_date, tenant.locale)}. "
                f"Fora das regras de autoatendimento: {reason}"
            ),
        )
    return InstalmentAnswer(task=task, reason=reason)


def debtor_opt_out(*, tenant: Tenant, invoice: Invoice, channel: str) -> bool:
    """The debtor leaves a channel from the payment page. Returns whether this changed
    anything (a repeat does not)."""
    if channel not in Channel.values:
        raise DebtorError(_("Unknown channel."))
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=invoice.customer_id)
        if channel in (customer.opted_out_channels or []):
            return False
        customer.opted_out_channels = [*(customer.opted_out_channels or []), channel]
        customer.save(update_fields=["opted_out_channels", "updated_at"])
        interaction_log(
            tenant=tenant,
            customer_id=customer.pk,
            invoice=invoice,
            kind=InteractionKind.OPT_OUT,
            channel=channel,
            summary=f"{CHANNEL_NAMES[channel]}: pediu pela página de pagamento para não receber "
            "mais mensagens",
            data={"source": "payment_page"},
        )
    return True
