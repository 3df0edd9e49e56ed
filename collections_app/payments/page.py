"""The debtor's payment page, `/p/<token>`: no login, an unguessable token per invoice.

It shows what the debtor owes today (with the charges apart), the Pix code with its QR code,
the boleto line and the external payment link, and the debtor's answers: "I already paid",
"I need more time", instalments, leave a channel. The customer's other open invoices show
only after the debtor types the first characters of their CPF/CNPJ — a few attempts per customer
and per address — or opens an access link sent to the customer's own e-mail or mobile number, so
a forwarded link does not expose someone's whole debt and a stranger who uses up the attempts
cannot lock the debtor out. Every answer is recorded in the team's timeline."""

from datetime import timedelta
from functools import wraps

import segno
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_scopes import scope, scopes_disabled

from collections_app.activity.timeline import interaction_log
from collections_app.engine.message_context import message_ref_unsign
from collections_app.models import (
    Interaction,
    Invoice,
    InvoiceStatus,
    PaymentPromise,
    PromiseStatus,
)
from collections_app.money import format_day, format_money
from collections_app.payments.agreements import agreement_plan
from collections_app.payments.charges import invoice_charges
from collections_app.payments.debtor import (
    CHANNEL_NAMES,
    IDENTITY_CHARS,
    DebtorError,
    access_token,
    access_token_customer_id,
    debtor_access_link_send,
    debtor_claim_paid,
    debtor_opt_out,
    debtor_promise,
    debtor_request_instalments,
    identity_matches,
)
from collections_app.payments.pix import BRCode, PixError
from collections_app.stats.rollups import funnel_add, funnel_keys
from messaging.models import Message, MessagePurpose
from tenants.request_address import client_address
from tenants.selectors import tenant_today

# Requests per client address per minute on the payment pages, and identity attempts per
# customer and per client address per 15 minutes (not per invoice: a customer with ten
# invoices does not get fifty tries): enough for a person, not for a script guessing tokens or
# documents. Access links: a few per customer per hour, so nobody floods the debtor with them.
PAGE_RATE = 60
IDENTITY_ATTEMPTS = 5
IDENTITY_WINDOW = 900
ACCESS_LINKS = 3
ACTION_RATE = 10  # debtor answers per invoice per hour
SELF_SERVICE_OPTIONS = 12


def _over_limit(key: str, limit: int, seconds: int) -> bool:
    """Fixed-window counter in the cache (shared through Redis when configured)."""
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        count = 1
    return count > limit


def _private(response):
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"  # the token never leaves in a Referer
    return response


def debtor_view(view):
    """Resolve the token to its invoice (404 page if unknown or revoked), rate-limit the client,
    and run the view in the invoice's tenant scope and language."""

    @wraps(view)
    def wrapper(request, token: str):
        if _over_limit(f"pay:ip:{client_address(request)}", PAGE_RATE, 60):
            response = render(request, "collections/payment_limit.html", status=429)
            response["Retry-After"] = "60"
            return _private(response)
        with scopes_disabled():
            invoice = (
                Invoice.objects.select_related("tenant", "customer")
                .filter(payment_token=token)
                .first()
            )
        if invoice is None or invoice.token_revoked:
            return _private(render(request, "collections/payment_not_found.html", status=404))
        with scope(tenant=invoice.tenant), translation.override(invoice.tenant.locale):
            return _private(view(request, invoice))

    return never_cache(wrapper)


@require_GET
@debtor_view
def payment_page(request, invoice: Invoice):
    tenant = invoice.tenant
    if "access" in request.GET:
        return _access_open(request, invoice)
    _record_click(request, invoice)
    today = tenant_today(tenant=tenant)
    charges = invoice_charges(tenant=tenant, invoice=invoice, today=today)
    payable = invoice.status == InvoiceStatus.OPEN and charges.total > 0
    pix_code, pix_qr = _pix(invoice, charges.total) if payable else (None, None)
    identified = request.session.get(_identity_key(invoice)) is True
    others = []
    if identified:
        others = [
            (other, invoice_charges(tenant=tenant, invoice=other, today=today))
            for other in Invoice.objects.filter(
                customer_id=invoice.customer_id, status=InvoiceStatus.OPEN
            )
            .exclude(pk=invoice.pk)
            .order_by("effective_due_date", "id")[:50]
        ]
    customer = invoice.customer
    reachable = [
        (channel, CHANNEL_NAMES[channel])
        for channel in ("email", "sms", "whatsapp")
        if customer.address_for(channel)
    ]
    counts = range(2, max(tenant.instalments_max, 2) + 1)
    if tenant.instalments_max < 2:
        counts = range(2, SELF_SERVICE_OPTIONS + 1)
    first_due = today + timedelta(days=7)
    # Only plans whose instalments reach the tenant's minimum: an instalment of an agreement
    # is not split again into parts smaller than that (nor is any other invoice).
    plans = [
        (n, amount)
        for n in counts
        if payable
        for amount in [agreement_plan(total=charges.total, count=n, first_due=first_due)[0][1]]
        if amount >= tenant.instalment_min_amount
    ]
    promise = PaymentPromise.objects.filter(invoice=invoice, status=PromiseStatus.OPEN).first()
    context = {
        "invoice": invoice,
        "tenant": tenant,
        "customer": customer,
        "today": today,
        "charges": charges,
        "payable": payable,
        "overdue": payable and charges.days_late > 0,
        "pix_code": pix_code,
        "pix_qr": pix_qr,
        "promise": promise,
        "claimed": invoice.paused_until is not None and invoice.paused_until >= today,
        "identified": identified,
        "identity_chars": IDENTITY_CHARS,
        "has_document": bool(customer.document),
        "others": others,
        "reachable": reachable,
        "promise_min": today + timedelta(days=1),
        "promise_max": today + timedelta(days=tenant.promise_max_days),
        "plans": plans,
        "first_due": first_due,
        "self_service": tenant.instalments_max >= 2,
        "instalment_min": tenant.instalment_min_amount,
        "next_instalment": _next_instalment(invoice),
        "agreement_instalments": _agreement_instalments(invoice, today),
        **_notices(request),
    }
    return render(request, "collections/payment_page.html", context)


# Messages about the "other invoices" gate (a CPF/CNPJ that does not match, too many attempts,
# the access link) are shown in that section, by the document field, not at the top.
GATE = "gate"


def _notices(request) -> dict:
    """The flash messages, split: the gate's (shown by the CPF/CNPJ field) and the rest."""
    top, gate = [], []
    for message in messages.get_messages(request):
        (gate if GATE in (message.extra_tags or "").split() else top).append(message)
    return {
        "notices": top,
        "gate_notices": gate,
        "gate_error": any(m.level_tag == "error" for m in gate),
    }


def _agreement_instalments(invoice: Invoice, today) -> list[tuple[Invoice, str, str]]:
    """Every instalment of the agreement this invoice belongs to (an instalment) or was
    replaced by (the latest), in date order, each with its state in words: paid, open, late,
    cancelled."""
    agreement_id = invoice.agreement_id
    if agreement_id is None and invoice.status == InvoiceStatus.IN_AGREEMENT:
        agreement = invoice.agreements_replacing.order_by("-created_at").first()
        agreement_id = agreement.pk if agreement else None
    if agreement_id is None:
        return []
    rows = []
    for instalment in Invoice.objects.filter(agreement_id=agreement_id).order_by("due_date", "id"):
        status = instalment.status
        if status == InvoiceStatus.PAID:
            state, label = "paid", _("Paid")
        elif status == InvoiceStatus.OPEN and instalment.effective_due_date < today:
            state, label = "late", _("Overdue")
        elif status == InvoiceStatus.OPEN:
            state, label = "open", _("To pay")
        else:
            state, label = "cancelled", _("Cancelled")
        rows.append((instalment, state, label))
    return rows


def _identity_key(invoice: Invoice) -> str:
    return f"debtor:{invoice.tenant_id}:{invoice.customer_id}"


def _attempts_key(invoice: Invoice) -> str:
    return f"pay:id:customer:{invoice.tenant_id}:{invoice.customer_id}"


def _identified(request, invoice: Invoice) -> None:
    request.session[_identity_key(invoice)] = True
    request.session.set_expiry(1800)


def _access_open(request, invoice: Invoice):
    """An access link: authentic, unexpired and of this invoice's customer, it shows their
    other invoices and clears the failed attempts that locked the gate."""
    customer_id = access_token_customer_id(
        request.GET.get("access", ""), tenant_id=invoice.tenant_id
    )
    if customer_id is not None and customer_id == invoice.customer_id:
        _identified(request, invoice)
        cache.delete(_attempts_key(invoice))
    else:
        messages.error(
            request,
            _("This access link is not valid or has expired: ask for a new one."),
            extra_tags=GATE,
        )
    return _back(invoice, "#others")  # the token leaves the address bar


def _record_click(request, invoice: Invoice) -> None:
    """A valid signed message reference (`?m=`) records the visit as that message's click."""
    signed = request.GET.get("m")
    ref = message_ref_unsign(signed) if signed else None
    message = Message.objects.filter(ref=ref).first() if ref else None
    if message is None or not message.invoice_links.filter(invoice=invoice).exists():
        return
    first = not Interaction.objects.filter(message=message, kind="click").exists()
    if first and message.purpose == MessagePurpose.REMINDER:
        keys = funnel_keys([message])
        funnel_add((keys[m], "clicked", 1) for m in keys)
    interaction_log(
        tenant=invoice.tenant,
        customer_id=invoice.customer_id,
        invoice=invoice,
        message=message,
        kind="click",
        channel=message.channel,
        summary=f"Página de pagamento aberta pelo link do {message.channel}",
        data={"message_ref": message.ref},
    )


def _pix(invoice: Invoice, amount) -> tuple[str | None, str | None]:
    tenant = invoice.tenant
    if not tenant.pix_key:
        return None, None
    try:
        code = BRCode(
            key=tenant.pix_key,
            merchant_name=tenant.merchant_name or tenant.name,
            merchant_city=tenant.merchant_city or "Sao Paulo",
            amount=amount,
            txid=invoice.pix_txid,
        ).payload()
    except PixError:
        return None, None
    qr = segno.make(code, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff")
    return code, qr


def _next_instalment(invoice: Invoice):
    """For an invoice replaced by an agreement: the agreement's next open instalment."""
    if invoice.status != InvoiceStatus.IN_AGREEMENT:
        return None
    agreement = invoice.agreements_replacing.order_by("-created_at").first()
    if agreement is None:
        return None
    return agreement.instalments.filter(status=InvoiceStatus.OPEN).order_by("due_date").first()


def _back(invoice: Invoice, anchor: str = ""):
    return redirect(reverse("payment_page", args=[invoice.payment_token]) + anchor)


def debtor_action(view):
    """POST answers: rate-limited per invoice, DebtorError shown back to the debtor."""

    @wraps(view)
    def wrapper(request, invoice: Invoice):
        if _over_limit(f"pay:act:{invoice.pk}", ACTION_RATE, 3600):
            messages.error(request, _("Too many requests. Please try again later."))
            return _back(invoice)
        try:
            return view(request, invoice)
        except DebtorError as exc:
            messages.error(request, str(exc))
            return _back(invoice, "#actions")

    return require_POST(debtor_view(wrapper))


@debtor_action
def claim_paid(request, invoice: Invoice):
    debtor_claim_paid(
        tenant=invoice.tenant,
        invoice=invoice,
        today=tenant_today(tenant=invoice.tenant),
        note=request.POST.get("note", ""),
        proof=request.FILES.get("proof"),
    )
    messages.success(
        request,
        _("Thank you! We will check your payment; meanwhile we will not send reminders."),
    )
    return _back(invoice)


@debtor_action
def promise(request, invoice: Invoice):
    promised = parse_date(request.POST.get("date", "") or "")
    if promised is None:
        raise DebtorError(_("Choose a date."))
    debtor_promise(
        tenant=invoice.tenant,
        invoice=invoice,
        promised_date=promised,
        today=tenant_today(tenant=invoice.tenant),
    )
    messages.success(
        request,
        _("Done: we will wait for your payment until %(date)s.")
        % {"date": format_day(promised, invoice.tenant.locale)},
    )
    return _back(invoice)


@debtor_action
def instalments(request, invoice: Invoice):
    try:
        count = int(request.POST.get("count", ""))
    except ValueError:
        raise DebtorError(_("Choose the number of instalments.")) from None
    today = tenant_today(tenant=invoice.tenant)
    first_due = parse_date(request.POST.get("first_due", "") or "") or today + timedelta(days=7)
    answer = debtor_request_instalments(
        tenant=invoice.tenant, invoice=invoice, count=count, first_due_date=first_due, today=today
    )
    if answer.agreement is not None:
        first = answer.agreement.instalments.order_by("due_date").first()
        messages.success(
            request,
            _(
                "Agreement made: %(n)s instalments. The first one, of %(amount)s, "
                "is due on %(date)s."
            )
            % {
                "n": answer.agreement.instalment_count,
                "amount": format_money(first.amount, first.currency, invoice.tenant.locale),
                "date": format_day(first.due_date, invoice.tenant.locale),
            },
        )
        return redirect(reverse("payment_page", args=[first.payment_token]))
    messages.success(
        request, _("Request received: our team will contact you about the instalments.")
    )
    return _back(invoice)


@debtor_action
def opt_out(request, invoice: Invoice):
    channel = request.POST.get("channel", "")
    debtor_opt_out(tenant=invoice.tenant, invoice=invoice, channel=channel)
    messages.success(request, str(OPT_OUT_DONE[channel]))
    return _back(invoice)


# The confirmation names the channel the debtor left (whole sentences, for the translators).
OPT_OUT_DONE = {
    "email": gettext_lazy("Done: you will no longer receive reminders by e-mail."),
    "sms": gettext_lazy("Done: you will no longer receive reminders by SMS."),
    "whatsapp": gettext_lazy("Done: you will no longer receive reminders by WhatsApp."),
}


@require_POST
@debtor_view
def identify(request, invoice: Invoice):
    if request.POST.get("send_link"):
        return _access_link(request, invoice)
    # Both counters count every attempt (no short cut): per customer and per client address.
    locked = [
        _over_limit(_attempts_key(invoice), IDENTITY_ATTEMPTS, IDENTITY_WINDOW),
        _over_limit(f"pay:id:ip:{client_address(request)}", IDENTITY_ATTEMPTS, IDENTITY_WINDOW),
    ]
    if any(locked):
        messages.error(
            request,
            _(
                "Too many attempts. Please try again in 15 minutes, or ask for an access link "
                "sent to your e-mail or mobile number."
            ),
            extra_tags=GATE,
        )
    elif identity_matches(invoice.customer, request.POST.get("document", "")):
        _identified(request, invoice)
    else:
        messages.error(request, _("That does not match our records."), extra_tags=GATE)
    return _back(invoice, "#others")


def _access_link(request, invoice: Invoice):
    if _over_limit(f"pay:link:{invoice.tenant_id}:{invoice.customer_id}", ACCESS_LINKS, 3600):
        messages.error(
            request,
            _("An access link was sent recently: check your messages."),
            extra_tags=GATE,
        )
        return _back(invoice, "#others")
    path = reverse("payment_page", args=[invoice.payment_token])
    token = access_token(customer=invoice.customer)
    url = f"{settings.PUBLIC_BASE_URL}{path}?access={token}"
    try:
        where = debtor_access_link_send(tenant=invoice.tenant, invoice=invoice, url=url)
    except DebtorError as exc:
        messages.error(request, str(exc), extra_tags=GATE)
    else:
        messages.success(
            request,
            _("We sent an access link to %(address)s. It is valid for 24 hours.")
            % {"address": where},
            extra_tags=GATE,
        )
    return _back(invoice, "#others")
