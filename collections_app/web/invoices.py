"""The invoice screens: the list (a page or its rows for HTMX), the detail with its timeline
and the ladder's steps explained, and an agent's actions on an invoice: a payment received
outside Régua, an agreement, a call, a note, a promise, a pause, a message from a template
(with its preview), and the proof a debtor sent with "I already paid"."""

from datetime import timedelta

import phonenumbers
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from collections_app.activity.agent_actions import (
    CALL_OUTCOMES,
    ActionError,
    invoice_pause,
    manual_message_preview,
    manual_message_send,
)
from collections_app.activity.bulk_actions import (
    bulk_invoices,
    invoices_assign,
    invoices_message,
    invoices_pause,
)
from collections_app.activity.followups import LADDER_ORIGINS
from collections_app.documents import document_normalize
from collections_app.engine.explain import invoice_explain
from collections_app.engine.message_context import payment_url
from collections_app.invoices.disputes import (
    DisputeError,
    invoice_dispute_close,
    invoice_dispute_open,
)
from collections_app.invoices.selectors import queue_rows_enrich, queue_totals
from collections_app.models import (
    Customer,
    ImportJob,
    Invoice,
    InvoiceStatus,
    PaymentClaim,
    PaymentPromise,
    PaymentSource,
    PromiseStatus,
    QueueFilter,
    TaskStatus,
)
from collections_app.payments.agreements import AgreementError, agreement_create
from collections_app.payments.charges import invoice_charges
from collections_app.payments.dates import paid_at_on
from collections_app.payments.promises import PromiseError, promise_create
from collections_app.payments.services import PaymentError, invoice_record_payment
from collections_app.payments.typed_amounts import AmountError, typed_amount
from collections_app.stats.selectors import (
    timeline_for_invoice,
)
from collections_app.web.agent_forms import call_or_note_record, pause_until
from collections_app.web.form_errors import typed_date
from messaging.models import Template
from tenants.decorators import tenant_required
from tenants.models import Membership
from tenants.selectors import tenant_today

# A step's outcome on the invoice page, a label of its own (feminine in pt-BR: "a etapa",
# agreeing with "Seria pulada: …" in the same row).
STEP_STATES = {
    "sent": pgettext_lazy("ladder step outcome", "Sent"),
    "task": pgettext_lazy("ladder step outcome", "Task created"),
    "skipped": pgettext_lazy("ladder step outcome", "Skipped"),
    "dropped": pgettext_lazy("ladder step outcome", "Dropped"),
    "stopped": pgettext_lazy("ladder step outcome", "Stopped"),
    "not_sent": pgettext_lazy("ladder step outcome", "Not sent"),
    "planned": pgettext_lazy("ladder step outcome", "Planned"),
}


INVOICE_SORTS = {
    "due": ("effective_due_date", "id"),
    "-due": ("-effective_due_date", "-id"),
    "-amount": ("-amount", "-id"),
}


QUEUE_FILTER_KEYS = ("status", "q", "sort")


def _queue_params(request) -> dict:
    """The queue's filter: the one asked for, saved as the user's; or, when the request names
    none, the user's saved one (it outlives the session)."""
    asked = {k: request.GET[k] for k in QUEUE_FILTER_KEYS if k in request.GET}
    if "import" in request.GET:
        return asked
    saved = QueueFilter.objects.filter(user=request.user).first()
    if asked:
        params = {k: v[:200] for k, v in asked.items()}
        # A NUL matches nothing (see invoice_list) and PostgreSQL's JSON cannot hold one: such
        # a filter is used once, not saved.
        storable = not any("\x00" in value for value in params.values())
        if storable and (saved is None or saved.params != params):
            QueueFilter.objects.update_or_create(
                tenant=request.tenant,
                user=request.user,
                defaults={"params": params, "updated_at": timezone.now()},
            )
        return asked
    return dict(saved.params) if saved else {}


@require_GET
@tenant_required()
def invoice_list(request):
    """The overdue queue: the filtered invoices with their count and total, each row with its
    days late, last contact, next step of the ladder and its promise, dispute or agreement,
    and bulk actions on the selected rows. Its queries do not grow with the rows."""
    today = tenant_today(tenant=request.tenant)
    params = _queue_params(request)
    sort = params.get("sort", "due")
    if sort not in INVOICE_SORTS:
        sort = "due"
    qs = Invoice.objects.select_related("customer__segment").order_by(*INVOICE_SORTS[sort])
    status = params.get("status", "overdue")
    if status == "overdue":
        qs = qs.filter(status=InvoiceStatus.OPEN, effective_due_date__lt=today)
    elif status == "disputed":
        qs = qs.filter(status=InvoiceStatus.OPEN, disputed=True)
    elif status in InvoiceStatus.values:
        qs = qs.filter(status=status)
    if "\x00" in (q := params.get("q", "").strip()):
        # No invoice or name holds a NUL, and PostgreSQL refuses one even in a lookup.
        qs = qs.none()
    elif q:
        # The customers first, then the invoices: each "contains" test stays on one table,
        # where its trigram index (PostgreSQL) answers it.
        named = list(Customer.objects.filter(name__icontains=q).values_list("id", flat=True)[:500])
        try:
            # A CPF or CNPJ as people type it (to answer a data subject's request, say): a
            # query of its own, so the name's stays on its trigram index.
            document = document_normalize(q)
        except ValueError:
            pass
        else:
            named += Customer.objects.filter(document=document).values_list("id", flat=True)[:50]
        qs = qs.filter(
            Q(number__icontains=q) | Q(external_id__icontains=q) | Q(customer_id__in=named)
        )
    imported = None
    if (job_id := request.GET.get("import", "")).isdigit():
        # The invoices a spreadsheet import last wrote (its result page links here).
        imported = ImportJob.objects.filter(pk=int(job_id)).only("id", "filename").first()
        qs = qs.filter(import_job=imported) if imported else qs.none()
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    queue_rows_enrich(tenant=request.tenant, invoices=page.object_list, today=today)
    can_work = request.membership.has_role("agent")
    # One view serves the page or, for an HTMX request, just the rows partial it includes.
    template = "collections/_invoice_rows.html" if request.htmx else "collections/invoice_list.html"
    return render(
        request,
        template,
        {
            "page": page,
            "status": status,
            "q": q,
            "sort": sort,
            "today": today,
            "imported": imported,
            "totals": queue_totals(qs),
            "can_work": can_work,
            "members": (
                Membership.objects.filter(tenant=request.tenant)
                .select_related("user")
                .order_by("user__first_name", "user__email")
                if can_work and not request.htmx
                else []
            ),
            "templates": (
                Template.objects.filter(locale=request.tenant.locale).order_by("channel", "key")
                if can_work and not request.htmx
                else []
            ),
            "pause_min": today,
        },
    )


BULK_ACTIONS = {"assign", "pause", "message"}


@require_POST
@tenant_required("agent")
def invoice_bulk(request):
    """An agent's action on the invoices selected in the queue: a follow-up task for a member,
    a pause of their reminders, or a message from a template now; then back to the queue."""
    tenant, user, post = request.tenant, request.user, request.POST
    action = post.get("action", "")
    today = tenant_today(tenant=tenant)
    try:
        if action not in BULK_ACTIONS:
            raise ActionError(_("Choose an action."))
        invoices = bulk_invoices(ids=post.getlist("ids"))
        if action == "assign":
            assignee = post.get("assignee") or ""
            if not assignee.isdigit():
                raise ActionError(_("Choose a member of the team."))
            n = invoices_assign(
                tenant=tenant, invoices=invoices, assignee_id=int(assignee), actor=user
            )
            done = _("%(n)s follow-up tasks created.") % {"n": n}
        elif action == "pause":
            until = pause_until(request, "pause")
            n = invoices_pause(
                tenant=tenant, invoices=invoices, actor=user, until=until, today=today
            )
            done = _("Reminders paused on %(n)s invoices.") % {"n": n}
        else:
            template = Template.objects.filter(pk=post.get("template") or 0).first()
            if template is None:
                raise ActionError(_("Choose a template."))
            n, failed = invoices_message(
                tenant=tenant, invoices=invoices, actor=user, template=template
            )
            done = _("%(n)s messages queued.") % {"n": n}
            if failed:
                messages.warning(
                    request,
                    _("Not sent to %(n)s invoices: %(why)s")
                    % {"n": len(failed), "why": "; ".join(failed[:5])},
                )
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("invoice_list")


def _phone(number: str) -> dict | None:
    """The customer's phone (E.164) for a tel: link and as people read it: "(11) 98765-4321"
    at home, the international form abroad."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, "BR")
    except phonenumbers.NumberParseException:
        return {"e164": number, "display": number}
    national = phonenumbers.region_code_for_number(parsed) == "BR"
    style = phonenumbers.PhoneNumberFormat.NATIONAL if national else None
    return {
        "e164": phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        "display": phonenumbers.format_number(
            parsed, style or phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
    }


@require_GET
@tenant_required()
def invoice_detail(request, pk: int):
    invoice = get_object_or_404(Invoice.objects.select_related("customer"), pk=pk)
    return invoice_page(request, invoice)


def invoice_page(request, invoice, *, posted: str = "", errors=None, status: int = 200):
    """The invoice page; after a payment or agreement form that did not go through, with the
    form's errors beside their fields (`errors` keyed "<form>_<field>", "<form>_general" for
    the rest) and what was typed (`posted` names the form), answered 400. An invoice no longer
    open shows no such form: its errors are the page's messages."""
    if errors and invoice.status != InvoiceStatus.OPEN:
        for message in dict.fromkeys(m for ms in errors.values() for m in ms):
            messages.error(request, message)
        return redirect("invoice_detail", pk=invoice.pk)
    today = tenant_today(tenant=request.tenant)
    tasks = list(
        invoice.tasks.filter(status=TaskStatus.OPEN)
        .select_related("assignee")
        .order_by("due_on", "id")
    )
    for task in tasks:
        # A task the ladder opens asks for a payment: a call, with the number and the amount.
        task.is_call = task.origin in LADDER_ORIGINS or task.title.lower().startswith("ligar")
        task.is_late = task.due_on < today
    steps = [
        {**entry, "state_label": STEP_STATES.get(entry["state"], entry["state"])}
        for entry in invoice_explain(tenant=request.tenant, invoice=invoice, today=today)
    ]
    return render(
        request,
        "collections/invoice_detail.html",
        {
            "invoice": invoice,
            "timeline": timeline_for_invoice(tenant=request.tenant, invoice=invoice)[:200],
            "today": today,
            "steps": steps,
            "ladder_end": ladder_end(invoice, steps),
            "templates": Template.objects.filter(locale=request.tenant.locale).order_by(
                "channel", "key"
            ),
            "call_outcomes": CALL_OUTCOMES,
            "promise_max": today + timedelta(days=request.tenant.promise_max_days),
            "payment_url": payment_url(invoice),
            "can_work": request.membership.has_role("agent"),
            "charges": invoice_charges(tenant=request.tenant, invoice=invoice, today=today),
            "first_due": today + timedelta(days=7),
            "promise": PaymentPromise.objects.filter(invoice=invoice, status=PromiseStatus.OPEN)
            .order_by("-promised_date")
            .first(),
            "tasks": tasks,
            "phone": _phone(invoice.customer.phone or invoice.customer.whatsapp),
            "posted": posted,
            "values": request.POST if posted else {},
            "errors": errors or {},
        },
        status=status,
    )


def ladder_end(invoice: Invoice, steps: list[dict]) -> dict | None:
    """For an open invoice past its ladder's last step (no step planned any more): the last
    step taken (sent or a task), else the last step, as {"label", "date"}; None otherwise."""
    active = [s for s in steps if s["active"] and s["scheduled_for"] is not None]
    if invoice.status != InvoiceStatus.OPEN or not active:
        return None
    if any(s["state"] == "planned" for s in active):
        return None
    taken = [s for s in active if s["state"] in ("sent", "task")] or active
    last = max(taken, key=lambda s: s["scheduled_for"])
    return {"label": last["step"], "date": last["scheduled_for"]}


@require_POST
@tenant_required("agent")
def invoice_payment(request, pk: int):
    """An agent records a payment received outside Régua (manual entry)."""
    invoice = get_object_or_404(Invoice.objects.select_related("customer"), pk=pk)
    tenant = request.tenant
    today = tenant_today(tenant=tenant)
    errors = {}
    amount = paid_on = None
    try:
        # 99,90 · 99.90 · 1.234,56 · 1234.56, read as the spreadsheet import reads amounts.
        amount = typed_amount(request.POST.get("amount") or "")
    except AmountError as exc:
        errors["pay_amount"] = [str(exc)]
    try:
        paid_on = typed_date(request.POST.get("paid_on")) or today
    except ValueError as exc:
        errors["pay_paid_on"] = [str(exc)]
    if paid_on and paid_on > today:
        errors["pay_paid_on"] = [_("The paid date is in the future.")]
    if not errors:
        try:
            invoice_record_payment(
                tenant=tenant,
                invoice=invoice,
                amount=amount,
                paid_at=paid_at_on(paid_on, tenant),
                source=PaymentSource.MANUAL,
                actor=request.user,
            )
        except PaymentError as exc:  # the amount's bounds
            errors["pay_amount"] = [str(exc)]
    if errors:
        return invoice_page(request, invoice, posted="pay", errors=errors, status=400)
    messages.success(request, _("Payment recorded."))
    return redirect("invoice_detail", pk=invoice.pk)


def _agreement_fields(post, today) -> tuple[dict, dict]:
    """The agreement form's instalments, first due date and total, and its errors by field."""
    values, errors = {}, {}
    count = (post.get("instalments") or "").strip()
    values["instalments"] = int(count) if count.isdigit() else 0
    if not 1 <= values["instalments"] <= 60:
        errors["ag_instalments"] = [_("Enter a number of instalments from 1 to 60.")]
    try:
        values["first_due"] = typed_date(post.get("first_due")) or today
    except ValueError as exc:
        errors["ag_first_due"] = [str(exc)]
    else:
        if values["first_due"] < today:
            errors["ag_first_due"] = [_("The first instalment cannot be due in the past.")]
    total_text = (post.get("total") or "").strip()
    try:
        values["total"] = typed_amount(total_text) if total_text else None
    except AmountError as exc:
        errors["ag_total"] = [str(exc)]
    return values, errors


@require_POST
@tenant_required("agent")
def invoice_agreement(request, pk: int):
    """An agent sets up an agreement for this invoice, or all the customer's open invoices."""
    invoice = get_object_or_404(Invoice.objects.select_related("customer"), pk=pk)
    tenant = request.tenant
    today = tenant_today(tenant=tenant)
    invoices = [invoice]
    if request.POST.get("all_open"):
        invoices = list(Invoice.objects.filter(customer=invoice.customer, status="open"))
    values, errors = _agreement_fields(request.POST, today)
    if not errors:
        try:
            agreement = agreement_create(
                tenant=tenant,
                customer=invoice.customer,
                invoices=invoices,
                instalments=values["instalments"],
                first_due_date=values["first_due"],
                today=today,
                total=values["total"],
                actor=request.user,
            )
        except AgreementError as exc:
            errors["ag_general"] = [str(exc)]
    if errors:
        return invoice_page(request, invoice, posted="ag", errors=errors, status=400)
    messages.success(
        request,
        _("Agreement %(id)s created: %(n)s instalments.")
        % {"id": agreement.pk, "n": agreement.instalment_count},
    )
    return redirect("invoice_detail", pk=invoice.pk)


INVOICE_ACTIONS = {"call", "note", "promise", "pause", "resume", "message", "dispute", "undispute"}
# The field an action's error belongs to, on the invoice page (`errors` of invoice_page).
ACTION_FIELDS = {
    "call": "call_outcome",
    "note": "note_text",
    "promise": "promise_date",
    "pause": "pause_until",
    "dispute": "dispute_reason",
    "message": "message_template",
}


@require_POST
@tenant_required("agent")
def invoice_action(request, pk: int, action: str):
    """An agent's action on an invoice: log a call or a note, record a promise, pause or resume
    the reminders, open or clear a dispute, or send a message from a template now."""
    if action not in INVOICE_ACTIONS:
        raise Http404
    invoice = get_object_or_404(Invoice.objects.select_related("customer"), pk=pk)
    tenant, user, post = request.tenant, request.user, request.POST
    today = tenant_today(tenant=tenant)
    try:
        if action in ("call", "note"):
            done = call_or_note_record(
                request=request, action=action, customer_id=invoice.customer_id, invoice=invoice
            )
        elif action == "promise":
            try:
                promised = typed_date(post.get("date"))
            except ValueError as exc:
                raise ActionError(str(exc)) from exc
            if promised is None:
                raise ActionError(_("Choose a date."))
            promise_create(
                tenant=tenant, invoice=invoice, promised_date=promised, today=today, actor=user
            )
            done = _("Promise recorded: reminders pause until then.")
        elif action in ("pause", "resume"):
            until = pause_until(request, action)
            invoice_pause(tenant=tenant, invoice=invoice, actor=user, until=until, today=today)
            done = _("Reminders paused.") if until else _("Reminders resumed.")
        elif action == "dispute":
            invoice_dispute_open(
                tenant=tenant, invoice=invoice, reason=post.get("reason", ""), actor=user
            )
            done = _("Invoice marked as disputed: no reminders while the dispute is open.")
        elif action == "undispute":
            invoice_dispute_close(tenant=tenant, invoice=invoice, actor=user)
            done = _("Dispute cleared: reminders resume from the next step.")
        else:
            template = Template.objects.filter(pk=post.get("template") or 0).first()
            if template is None:
                raise ActionError(_("Choose a template."))
            manual_message_send(tenant=tenant, invoice=invoice, actor=user, template=template)
            done = _("Message queued.")
    except (ActionError, DisputeError, PromiseError) as exc:
        # The error beside the action's field, the form open (a disputed invoice shows no
        # dispute form: there, the error is the page's message).
        if action in ACTION_FIELDS and not (action == "dispute" and invoice.disputed):
            errors = {ACTION_FIELDS[action]: [str(exc)]}
            return invoice_page(request, invoice, posted=action, errors=errors, status=400)
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("invoice_detail", pk=invoice.pk)


@require_GET
@tenant_required("agent")
def invoice_message_preview(request, pk: int):
    """HTMX partial: the chosen template rendered for this invoice, as it would leave now."""
    invoice = get_object_or_404(Invoice.objects.select_related("customer", "tenant"), pk=pk)
    template = Template.objects.filter(pk=request.GET.get("template") or 0).first()
    preview = manual_message_preview(invoice=invoice, template=template) if template else None
    return render(
        request,
        "collections/_message_preview.html",
        {"preview": preview, "template": template, "invoice": invoice},
    )


@require_GET
@tenant_required()
def payment_claim_proof(request, pk: int):
    """The proof a debtor sent with "I already paid", for the tenant's users only."""
    claim = get_object_or_404(PaymentClaim.objects.exclude(proof=""), pk=pk)
    kind = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}
    extension = claim.proof.name.rsplit(".", 1)[-1].lower()
    response = FileResponse(
        claim.proof.open("rb"), content_type=kind.get(extension, "application/octet-stream")
    )
    response["Content-Disposition"] = f'inline; filename="comprovante-{claim.pk}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response
