"""The variables a message template renders with, prepared at send time (so amounts are
current) — the documented registry tenants write templates against."""

from datetime import date

from django.conf import settings
from django.core import signing
from django.db.models import Exists, F, OuterRef, Q, TextField, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils.translation import gettext_lazy

from collections_app.engine.rules import StepFacts, below_minimum, send_stop_reason
from collections_app.models import (
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    LadderStep,
    PaymentPromise,
    PromiseStatus,
)
from collections_app.money import format_day, format_money
from messaging.models import Message, MessagePurpose
from tenants.selectors import tenant_today

# name → (description, sample value)
VARIABLES: dict[str, tuple[str, str]] = {
    "customer_name": (gettext_lazy("Customer's name"), "Maria Souza"),
    "company_name": (gettext_lazy("Your company's name"), "Escola Aurora"),
    "invoice_number": (gettext_lazy("Invoice number"), "NF-2026-0042"),
    "amount": (gettext_lazy("Amount still due, formatted"), "R$ 1.234,50"),
    "original_amount": (gettext_lazy("Invoice amount, formatted"), "R$ 1.234,50"),
    "amount_paid": (gettext_lazy("Amount paid so far, formatted"), "R$ 0,00"),
    "due_date": (gettext_lazy("Due date, dd/mm/aaaa"), "10/12/2026"),
    "days_overdue": (gettext_lazy("Days past the due date (0 if not late)"), "3"),
    "payment_link": (
        gettext_lazy("Link to the payment page"),
        "https://app.regua.com.br/p/abc?m=xyz",
    ),
    "invoice_count": (gettext_lazy("How many invoices the message is about"), "1"),
    "invoices_list": (
        gettext_lazy(
            "One line per invoice (number: amount due (due date)); several when the tenant "
            "sends one message per customer"
        ),
        "NF-2026-0042: R$ 1.234,50 (10/12/2026)",
    ),
}

_signer = signing.Signer(salt="regua.message-ref")


def message_ref_sign(ref: str) -> str:
    return _signer.sign(ref)


def message_ref_unsign(value: str) -> str | None:
    try:
        return _signer.unsign(value)
    except signing.BadSignature:
        return None


def payment_url(invoice: Invoice, message: Message | None = None) -> str:
    path = reverse("payment_page", args=[invoice.payment_token])
    url = f"{settings.PUBLIC_BASE_URL}{path}"
    if message is not None:
        url += f"?m={message_ref_sign(message.ref)}"
    return url


def messages_prefetch(messages: list[Message]) -> None:
    """Read the invoices (with customer and tenant), the ladder step that queued each of them
    (through its ledger row) and the open payment promises of a send batch in two queries, for
    the guard and the context of each message."""
    by_message: dict[int, list[Invoice]] = {message.pk: [] for message in messages}
    steps: dict[int, dict[int, LadderStep | None]] = {message.pk: {} for message in messages}
    links = (
        InvoiceMessage.objects.filter(message_id__in=list(by_message))
        .select_related("invoice__customer", "invoice__tenant", "dispatch__step")
        .order_by("invoice__effective_due_date", "invoice_id")
    )
    for link in links:
        by_message[link.message_id].append(link.invoice)
        dispatch = link.dispatch
        steps[link.message_id][link.invoice_id] = dispatch.step if dispatch else None
    promises: dict[int, date] = {}
    invoice_ids = {invoice.pk for invoices in by_message.values() for invoice in invoices}
    for invoice_id, promised in PaymentPromise.objects.filter(
        invoice_id__in=invoice_ids, status=PromiseStatus.OPEN
    ).values_list("invoice_id", "promised_date"):
        promises[invoice_id] = max(promised, promises.get(invoice_id, promised))
    for message in messages:
        message._regua_invoices = by_message[message.pk]
        message._regua_steps = steps[message.pk]
        message._regua_promises = promises


def _invoices_of(message: Message) -> list[Invoice]:
    """The invoices a message is about, read once per message object (a send batch reads
    them for all its messages at once: `messages_prefetch`)."""
    if getattr(message, "_regua_invoices", None) is None:
        messages_prefetch([message])
    return message._regua_invoices


def invoice_context(invoice: Invoice, *, message: Message | None = None, today: date) -> dict:
    tenant, locale = invoice.tenant, invoice.tenant.locale
    return {
        "customer_name": invoice.customer.name,
        "company_name": tenant.name,
        "invoice_number": invoice.number or invoice.external_id,
        "amount": format_money(invoice.amount_due, invoice.currency, locale),
        "original_amount": format_money(invoice.amount, invoice.currency, locale),
        "amount_paid": format_money(invoice.amount_paid, invoice.currency, locale),
        "due_date": format_day(invoice.effective_due_date, locale),
        "days_overdue": str(max(0, (today - invoice.effective_due_date).days)),
        "payment_link": payment_url(invoice, message),
        "invoice_count": "1",
        "invoices_list": (
            f"{invoice.number or invoice.external_id}: "
            f"{format_money(invoice.amount_due, invoice.currency, locale)} "
            f"({format_day(invoice.effective_due_date, locale)})"
        ),
    }


def preview_context(tenant) -> dict:
    """What a template editor previews with: one of the tenant's own open invoices (an
    overdue one first, else the next due; a paid one when there is nothing open) with its
    customer, or only the tenant's name over the samples when it has no invoice yet."""
    invoices = Invoice.objects.filter(tenant=tenant).select_related("customer", "tenant")
    today = tenant_today(tenant=tenant)
    invoice = (
        invoices.filter(status=InvoiceStatus.OPEN).order_by("effective_due_date", "id").first()
        or invoices.order_by("-id").first()
    )
    if invoice is None:
        return {"company_name": tenant.name}
    return invoice_context(invoice, today=today)


def message_context(message: Message) -> dict:
    invoices = _invoices_of(message)
    if not invoices:
        return {}
    first = invoices[0]
    today = tenant_today(tenant=first.tenant)
    context = invoice_context(first, message=message, today=today)
    context["invoice_count"] = str(len(invoices))
    if len(invoices) > 1:
        # One message for several invoices of the customer: the totals, the earliest due date
        # and one line per invoice.
        locale, currency = first.tenant.locale, first.currency
        context["invoice_number"] = ", ".join(inv.number or inv.external_id for inv in invoices)
        context["amount"] = format_money(sum(i.amount_due for i in invoices), currency, locale)
        context["original_amount"] = format_money(sum(i.amount for i in invoices), currency, locale)
        context["amount_paid"] = format_money(
            sum(i.amount_paid for i in invoices), currency, locale
        )
        context["invoices_list"] = "\n".join(
            f"{inv.number or inv.external_id}: {format_money(inv.amount_due, currency, locale)}"
            f" ({format_day(inv.effective_due_date, locale)})"
            for inv in invoices
        )
    return context


def _step_facts(invoice: Invoice, step: LadderStep | None, promised_until: date | None):
    """The rule's facts for an invoice of a message; a message no step queued (a manual
    reminder) is judged as a step with the defaults: skipped while a promise is open, no
    minimum amount."""
    return StepFacts(
        status=invoice.status,
        disputed=invoice.disputed,
        paused_until=invoice.paused_until,
        customer_paused_until=invoice.customer.paused_until,
        promised_until=promised_until,
        skip_while_promise=step.skip_while_promise if step is not None else True,
        below_min_amount=step is not None
        and below_minimum(amount_due=invoice.amount_due, min_amount=step.min_amount),
    )


def message_cancel_reason(message: Message) -> str | None:
    """Stop means stop: a reminder about invoices none of which may get its step any more
    (`rules.step_skip_reason`, each judged with the step that queued it), or a message to a
    channel the customer left, does not leave."""
    invoices = _invoices_of(message)
    if not invoices:
        return None
    promises = message._regua_promises  # open promise → latest promised date
    steps = message._regua_steps
    return send_stop_reason(
        channel=message.channel,
        opted_out_channels=invoices[0].customer.opted_out_channels,
        reminder=message.purpose == MessagePurpose.REMINDER,
        invoices=[
            _step_facts(invoice, steps.get(invoice.pk), promises.get(invoice.pk))
            for invoice in invoices
        ],
        today=tenant_today(tenant=invoices[0].tenant),
    )


def message_claim_condition(tenant) -> Q:
    """`message_cancel_reason`'s rule in SQL, over Message, for the send claim's conditional
    UPDATE (`hooks.claim_condition`): a message about no invoice may leave; any other may not
    go to a channel its customer left, and a reminder needs one of its invoices still open,
    not disputed, not paused (nor its customer) today, with no open promise running through
    today (when its step skips while one is open) and not below its step's minimum. Read in
    the claim's own statement, so a payment or a stop committed before the claim stops the
    message even when the send's pre-check read the invoice before it."""
    today = tenant_today(tenant=tenant)
    links = InvoiceMessage.objects.filter(message_id=OuterRef("pk"))
    opted_out = links.annotate(
        opted=Cast("invoice__customer__opted_out_channels", TextField())
    ).filter(opted__contains=Concat(Value('"'), OuterRef("channel"), Value('"')))
    promise_open = PaymentPromise.objects.filter(
        invoice_id=OuterRef("invoice_id"), status=PromiseStatus.OPEN, promised_date__gte=today
    )
    may_get_step = (
        links.filter(invoice__status=InvoiceStatus.OPEN, invoice__disputed=False)
        .filter(Q(invoice__paused_until__isnull=True) | Q(invoice__paused_until__lt=today))
        .filter(
            Q(invoice__customer__paused_until__isnull=True)
            | Q(invoice__customer__paused_until__lt=today)
        )
        .filter(~Exists(promise_open) | Q(dispatch__step__skip_while_promise=False))
        .alias(due=F("invoice__amount") - F("invoice__amount_paid"))
        .filter(
            Q(dispatch__step__min_amount__isnull=True)
            | Q(dispatch__step__min_amount__lte=0)
            | Q(due__gte=F("dispatch__step__min_amount"))
        )
    )
    return ~Exists(links) | (
        ~Exists(opted_out) & (~Q(purpose=MessagePurpose.REMINDER) | Exists(may_get_step))
    )
