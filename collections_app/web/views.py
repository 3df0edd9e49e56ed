import csv
import itertools
from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from collections_app.activity.agent_actions import (
    CALL_OUTCOMES,
    ActionError,
    call_record,
    customer_pause,
    invoice_pause,
    manual_message_preview,
    manual_message_send,
    note_record,
)
from collections_app.documents import document_normalize
from collections_app.engine.explain import invoice_explain
from collections_app.engine.message_context import payment_url
from collections_app.exports.lgpd import customer_erase, customer_export
from collections_app.imports.spreadsheets import row_safe
from collections_app.invoices.services import PaymentError, interaction_log, invoice_record_payment
from collections_app.models import (
    BankCredit,
    BankStatement,
    CreditStatus,
    Customer,
    DailyStat,
    FollowUpTask,
    ImportJob,
    Interaction,
    Invoice,
    InvoiceStatus,
    PaymentClaim,
    PaymentSource,
    Segment,
    TaskStatus,
)
from collections_app.money import format_money, format_month, format_percent
from collections_app.payments.agreements import AgreementError, agreement_create
from collections_app.payments.bank_files import BankFileError, not_payments_summary
from collections_app.payments.charges import invoice_charges
from collections_app.payments.dates import paid_at_on
from collections_app.payments.promises import PromiseError, promise_create
from collections_app.payments.reconciliation import (
    bank_credit_assign,
    bank_credit_ignore,
    bank_statement_import,
)
from collections_app.payments.typed_amounts import AmountError, typed_amount
from collections_app.stats.selectors import (
    interactions_recent,
    metrics_with_previous,
    recovery_by_month,
    recovery_by_step,
    tasks_open_for,
    timeline_for_invoice,
)
from collections_app.web.charts import bar_chart, funnel
from messaging.models import InboundMessage, Message, Template
from tenants.decorators import tenant_required
from tenants.selectors import tenant_today

STEP_STATES = {
    "sent": gettext_lazy("sent"),
    "task": gettext_lazy("task created"),
    "skipped": gettext_lazy("skipped"),
    "dropped": gettext_lazy("dropped"),
    "stopped": gettext_lazy("stopped"),
    "not_sent": gettext_lazy("not sent"),
    "planned": gettext_lazy("planned"),
}


@require_GET
@tenant_required()
def dashboard(request):
    tenant = request.tenant
    today = tenant_today(tenant=tenant)
    date_to = parse_date(request.GET.get("to") or "") or today
    date_from = parse_date(request.GET.get("from") or "") or date_to - timedelta(days=29)
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    segments = list(Segment.objects.order_by("priority", "id"))
    segment = next((s for s in segments if str(s.pk) == request.GET.get("segment")), None)
    segment_id = segment.pk if segment else None
    metrics = metrics_with_previous(
        tenant=tenant, date_from=date_from, date_to=date_to, today=today, segment_id=segment_id
    )
    aging = [
        ("1–15", metrics["aging_1_15"]),
        ("16–30", metrics["aging_16_30"]),
        ("31–60", metrics["aging_31_60"]),
        ("61–90", metrics["aging_61_90"]),
        ("90+", metrics["aging_90_plus"]),
    ]
    months = recovery_by_month(tenant=tenant, months=6, today=today, segment_id=segment_id)
    steps = recovery_by_step(
        tenant=tenant, date_from=date_from, date_to=date_to, segment_id=segment_id
    )
    context = {
        "metrics": metrics,
        "previous": metrics["previous"],
        "date_from": date_from,
        "date_to": date_to,
        "segments": segments,
        "segment": segment,
        "interactions": interactions_recent(tenant=tenant, limit=25),
        "open_tasks": FollowUpTask.objects.filter(status=TaskStatus.OPEN).count(),
        "tasks": tasks_open_for(tenant=tenant, user=request.user),
        "overdue_count": DailyStat.objects.filter(day__lt=today).aggregate(
            n=Coalesce(Sum("open_n"), 0)
        )["n"],
        "messages_today": Message.objects.filter(
            created_at__gte=timezone.now() - timedelta(days=1)
        ).count(),
        "aging": aging,
        "aging_chart": bar_chart(
            [
                (label, float(amount), format_money(amount, "BRL", tenant.locale))
                for label, amount in aging
            ]
        ),
        "months": months,
        "recovery_chart": bar_chart(
            [
                (
                    format_month(row["month"], tenant.locale),
                    row["recovery_rate"] or 0.0,
                    format_percent(row["recovery_rate"], tenant.locale),
                )
                for row in months
            ]
        ),
        "funnel": funnel(steps),
    }
    return render(request, "collections/dashboard.html", context)


INVOICE_SORTS = {
    "due": ("effective_due_date", "id"),
    "-due": ("-effective_due_date", "-id"),
    "-amount": ("-amount", "-id"),
}


@require_GET
@tenant_required()
def invoice_list(request):
    today = tenant_today(tenant=request.tenant)
    sort = request.GET.get("sort", "due")
    if sort not in INVOICE_SORTS:
        sort = "due"
    qs = Invoice.objects.select_related("customer").order_by(*INVOICE_SORTS[sort])
    status = request.GET.get("status", "overdue")
    if status == "overdue":
        qs = qs.filter(status=InvoiceStatus.OPEN, effective_due_date__lt=today)
    elif status in InvoiceStatus.values:
        qs = qs.filter(status=status)
    if q := request.GET.get("q", "").strip():
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
        },
    )


@require_GET
@tenant_required()
def invoice_detail(request, pk: int):
    invoice = get_object_or_404(Invoice.objects.select_related("customer"), pk=pk)
    today = tenant_today(tenant=request.tenant)
    return render(
        request,
        "collections/invoice_detail.html",
        {
            "invoice": invoice,
            "timeline": timeline_for_invoice(tenant=request.tenant, invoice=invoice)[:200],
            "today": today,
            "steps": [
                {**entry, "state_label": STEP_STATES.get(entry["state"], entry["state"])}
                for entry in invoice_explain(tenant=request.tenant, invoice=invoice, today=today)
            ],
            "templates": Template.objects.filter(locale=request.tenant.locale).order_by(
                "channel", "key"
            ),
            "call_outcomes": CALL_OUTCOMES,
            "promise_max": today + timedelta(days=request.tenant.promise_max_days),
            "payment_url": payment_url(invoice),
            "can_work": request.membership.has_role("agent"),
            "charges": invoice_charges(tenant=request.tenant, invoice=invoice, today=today),
            "first_due": today + timedelta(days=7),
        },
    )


@require_POST
@tenant_required("agent")
def invoice_payment(request, pk: int):
    """An agent records a payment received outside Régua (manual entry)."""
    invoice = get_object_or_404(Invoice, pk=pk)
    tenant = request.tenant
    today = tenant_today(tenant=tenant)
    paid_on = parse_date(request.POST.get("paid_on") or "") or today
    try:
        # 99,90 · 99.90 · 1.234,56 · 1234.56, read as the spreadsheet import reads amounts.
        amount = typed_amount(request.POST.get("amount") or "")
        if paid_on > today:
            raise PaymentError(_("The paid date is in the future."))
        invoice_record_payment(
            tenant=tenant,
            invoice=invoice,
            amount=amount,
            paid_at=paid_at_on(paid_on, tenant),
            source=PaymentSource.MANUAL,
            actor=request.user,
        )
    except (AmountError, PaymentError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Payment recorded."))
    return redirect("invoice_detail", pk=invoice.pk)


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
    total_text = (request.POST.get("total") or "").strip()
    try:
        total = typed_amount(total_text) if total_text else None
        agreement = agreement_create(
            tenant=tenant,
            customer=invoice.customer,
            invoices=invoices,
            instalments=int(request.POST.get("instalments") or 0),
            first_due_date=parse_date(request.POST.get("first_due") or "") or today,
            today=today,
            total=total,
            actor=request.user,
        )
    except (AgreementError, AmountError, ValueError) as exc:
        known = isinstance(exc, AgreementError | AmountError)
        messages.error(request, str(exc) if known else _("Invalid value."))
        return redirect("invoice_detail", pk=invoice.pk)
    messages.success(
        request,
        _("Agreement %(id)s created: %(n)s instalments.")
        % {"id": agreement.pk, "n": agreement.instalment_count},
    )
    return redirect("invoice_detail", pk=invoice.pk)


@require_GET
@tenant_required()
def customer_detail(request, pk: int):
    customer = get_object_or_404(Customer, pk=pk)
    return render(
        request,
        "collections/customer_detail.html",
        {
            "customer": customer,
            "invoices": customer.invoices.order_by("-effective_due_date")[:100],
            "timeline": customer.interactions.select_related("invoice").order_by(
                "-occurred_at", "-id"
            )[:200],
            "today": tenant_today(tenant=request.tenant),
            "can_work": request.membership.has_role("agent"),
            "can_admin": request.membership.has_role("admin"),
            "call_outcomes": CALL_OUTCOMES,
        },
    )


CUSTOMER_ACTIONS = {"call", "note", "pause", "resume"}


@require_POST
@tenant_required("agent")
def customer_action(request, pk: int, action: str):
    """An agent's action on a customer: log a call or a note, pause or resume all of the
    customer's reminders."""
    if action not in CUSTOMER_ACTIONS:
        raise Http404
    customer = get_object_or_404(Customer, pk=pk)
    tenant, user, post = request.tenant, request.user, request.POST
    try:
        if action == "call":
            call_record(
                tenant=tenant,
                customer_id=customer.pk,
                actor=user,
                outcome=post.get("outcome", ""),
                note=post.get("note", ""),
            )
            done = _("Call recorded.")
        elif action == "note":
            note_record(
                tenant=tenant, customer_id=customer.pk, actor=user, text=post.get("text", "")
            )
            done = _("Note added.")
        else:
            until = parse_date(post.get("until") or "") if action == "pause" else None
            if action == "pause" and until is None:
                raise ActionError(_("Choose a date."))
            customer_pause(
                tenant=tenant,
                customer=customer,
                actor=user,
                until=until,
                today=tenant_today(tenant=tenant),
            )
            done = _("Reminders paused.") if until else _("Reminders resumed.")
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("customer_detail", pk=customer.pk)


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


INVOICE_ACTIONS = {"call", "note", "promise", "pause", "resume", "message"}


@require_POST
@tenant_required("agent")
def invoice_action(request, pk: int, action: str):
    """An agent's action on an invoice: log a call or a note, record a promise, pause or resume
    the reminders, or send a message from a template now."""
    if action not in INVOICE_ACTIONS:
        raise Http404
    invoice = get_object_or_404(Invoice.objects.select_related("customer"), pk=pk)
    tenant, user, post = request.tenant, request.user, request.POST
    today = tenant_today(tenant=tenant)
    try:
        if action == "call":
            call_record(
                tenant=tenant,
                customer_id=invoice.customer_id,
                invoice=invoice,
                actor=user,
                outcome=post.get("outcome", ""),
                note=post.get("note", ""),
            )
            done = _("Call recorded.")
        elif action == "note":
            note_record(
                tenant=tenant,
                customer_id=invoice.customer_id,
                invoice=invoice,
                actor=user,
                text=post.get("text", ""),
            )
            done = _("Note added.")
        elif action == "promise":
            promised = parse_date(post.get("date") or "")
            if promised is None:
                raise ActionError(_("Choose a date."))
            promise_create(
                tenant=tenant, invoice=invoice, promised_date=promised, today=today, actor=user
            )
            done = _("Promise recorded: reminders pause until then.")
        elif action in ("pause", "resume"):
            until = parse_date(post.get("until") or "") if action == "pause" else None
            if action == "pause" and until is None:
                raise ActionError(_("Choose a date."))
            invoice_pause(tenant=tenant, invoice=invoice, actor=user, until=until, today=today)
            done = _("Reminders paused.") if until else _("Reminders resumed.")
        else:
            template = Template.objects.filter(pk=post.get("template") or 0).first()
            if template is None:
                raise ActionError(_("Choose a template."))
            manual_message_send(tenant=tenant, invoice=invoice, actor=user, template=template)
            done = _("Message queued.")
    except (ActionError, PromiseError) as exc:
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


TASK_FILTERS = {"mine", "unassigned", "all"}
TASK_ORIGINS = [
    ("step", gettext_lazy("Ladder step")),
    ("escalation", gettext_lazy("Escalation")),
    ("reply", gettext_lazy("Reply")),
    ("payment_claim", gettext_lazy("Payment to check")),
    ("instalments", gettext_lazy("Instalment request")),
    ("agreement", gettext_lazy("Broken agreement")),
    ("overpayment", gettext_lazy("Overpayment")),
]


@require_GET
@tenant_required()
def task_list(request):
    """Work queue: open follow-up tasks — mine (the default), unassigned or all — the earliest
    due first. An HTMX request gets just the rows."""
    who = request.GET.get("who", "mine")
    if who not in TASK_FILTERS:
        who = "mine"
    qs = (
        FollowUpTask.objects.filter(status=TaskStatus.OPEN)
        .select_related("customer", "invoice", "assignee")
        .order_by("due_on", "id")
    )
    if who == "mine":
        qs = qs.filter(assignee=request.user)
    elif who == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    if origin := request.GET.get("origin", ""):
        qs = qs.filter(origin=origin)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "who": who,
        "origin": origin,
        "today": tenant_today(tenant=request.tenant),
        "can_work": request.membership.has_role("agent"),
        "origins": TASK_ORIGINS,
    }
    template = "collections/_task_rows.html" if request.htmx else "collections/task_list.html"
    return render(request, template, context)


@require_POST
@tenant_required("agent")
def task_done(request, pk: int):
    """Close a task (done), with its timeline entry. HTMX gets an empty answer (the row goes)."""
    task = get_object_or_404(FollowUpTask, pk=pk)
    if task.status == TaskStatus.OPEN:
        task.status = TaskStatus.DONE
        task.completed_at = timezone.now()
        task.save(update_fields=["status", "completed_at"])
        interaction_log(
            tenant=request.tenant,
            customer_id=task.customer_id,
            invoice=task.invoice,
            kind="task",
            actor=request.user,
            summary=f"Tarefa concluída: {task.title}",
            data={"task_id": task.pk, "status": TaskStatus.DONE},
        )
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Task done."))
    return redirect(request.POST.get("next") or "task_list")


@require_GET
@tenant_required()
def reply_list(request):
    """Work queue: customers' replies waiting for an answer (their open reply tasks), and
    messages from numbers that match no customer."""
    tasks = Paginator(
        FollowUpTask.objects.filter(status=TaskStatus.OPEN, origin="reply")
        .select_related("customer", "invoice", "assignee")
        .order_by("created_at", "id"),
        50,
    ).get_page(request.GET.get("page"))
    since = timezone.now() - timedelta(days=30)
    inbound = list(InboundMessage.objects.filter(received_at__gte=since).order_by("-id")[:100])
    senders = {m.sender for m in inbound}
    known = set(
        Customer.objects.filter(Q(phone__in=senders) | Q(whatsapp__in=senders)).values_list(
            "phone", "whatsapp"
        )
    )
    known_numbers = {number for pair in known for number in pair if number}
    unknown = [m for m in inbound if m.sender not in known_numbers]
    return render(
        request,
        "collections/reply_list.html",
        {
            "tasks": tasks,
            "unknown": unknown,
            "can_work": request.membership.has_role("agent"),
        },
    )


@require_GET
@tenant_required("admin")
def customer_export_view(request, pk: int):
    """The customer's data as one JSON file (LGPD access request)."""
    customer = get_object_or_404(Customer, pk=pk)
    response = JsonResponse(
        customer_export(customer=customer),
        encoder=DjangoJSONEncoder,
        json_dumps_params={"ensure_ascii": False, "indent": 2},
    )
    response["Content-Disposition"] = f'attachment; filename="cliente-{customer.pk}.json"'
    return response


@require_POST
@tenant_required("admin")
def customer_erase_view(request, pk: int):
    """Erase the customer's personal data (LGPD), after an explicit confirmation."""
    customer = get_object_or_404(Customer, pk=pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the confirmation to erase the personal data."))
    else:
        customer_erase(tenant=request.tenant, customer=customer, actor=request.user)
        messages.success(request, _("Personal data erased; the financial records were kept."))
    return redirect("customer_detail", pk=customer.pk)


# The invoice export's columns: the field each is read from (the header replaces "__" by "_").
EXPORT_INVOICE_FIELDS = (
    "external_id",
    "number",
    "customer__external_id",
    "customer__name",
    "amount",
    "amount_paid",
    "currency",
    "issue_date",
    "due_date",
    "effective_due_date",
    "status",
    "paid_on",
    "days_late",
)


class _Echo:
    def write(self, value):
        return value


def _csv_response(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row_safe(row)) for row in itertools.chain([header], rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@tenant_required("agent")
def export_invoices(request):
    """The tenant's invoices as CSV (optionally `status`, `due_from`, `due_to`), streamed."""
    qs = Invoice.objects.order_by("id")
    if status := request.GET.get("status"):
        qs = qs.filter(status=status)
    if due_from := parse_date(request.GET.get("due_from") or ""):
        qs = qs.filter(due_date__gte=due_from)
    if due_to := parse_date(request.GET.get("due_to") or ""):
        qs = qs.filter(due_date__lte=due_to)
    rows = (
        ["" if value is None else value for value in row]
        for row in qs.values_list(*EXPORT_INVOICE_FIELDS).iterator(chunk_size=5000)
    )
    header = [name.replace("__", "_") for name in EXPORT_INVOICE_FIELDS]
    return _csv_response("faturas.csv", header, rows)


@require_GET
@tenant_required("agent")
def export_interactions(request):
    """The timeline as CSV (optionally `from` and `to`, the tenant's dates), streamed."""
    qs = Interaction.objects.order_by("occurred_at", "id")
    if day := parse_date(request.GET.get("from") or ""):
        qs = qs.filter(occurred_at__date__gte=day)
    if day := parse_date(request.GET.get("to") or ""):
        qs = qs.filter(occurred_at__date__lte=day)
    rows = qs.values_list(
        "occurred_at",
        "customer__external_id",
        "invoice__external_id",
        "kind",
        "channel",
        "summary",
        "actor__email",
    ).iterator(chunk_size=5000)
    return _csv_response(
        "interacoes.csv",
        ["occurred_at", "customer", "invoice", "kind", "channel", "summary", "actor"],
        ([r[0].isoformat(), *("" if v is None else v for v in r[1:])] for r in rows),
    )


@require_http_methods(["GET", "POST"])
@tenant_required("agent")
def bank(request):
    """Bank reconciliation: import a return file or statement; the credits nothing matched wait
    here for an agent."""
    if request.method == "POST":
        upload = file_upload(request, max_bytes=20 * 1024 * 1024)
        if upload is not None:
            try:
                statement = bank_statement_import(
                    tenant=request.tenant,
                    filename=upload.name or "",
                    content=upload.read(),
                    actor=request.user,
                )
            except BankFileError as exc:
                messages.error(request, _("The file was not imported: %(error)s") % {"error": exc})
            else:
                messages.success(
                    request,
                    _(
                        "%(credits)s credits read: %(matched)s matched and recorded as payments, "
                        "%(review)s to review, %(duplicates)s already imported."
                    )
                    % {
                        "credits": statement.credits,
                        "matched": statement.matched,
                        "review": statement.credits - statement.matched,
                        "duplicates": statement.duplicates,
                    },
                )
                # Entries, rejections, write-offs, fees: named per code, never dropped unseen.
                if summary := not_payments_summary(statement.not_payments):
                    messages.info(request, summary)
                # A cancelled invoice, two invoices for one nosso número, a refused payment:
                # the credit waits in the queue, and the agent is told why.
                if statement.review:
                    reasons = [reason for _credit, reason in statement.review]
                    listed = " · ".join(reasons[:5]) + (" · …" if len(reasons) > 5 else "")
                    messages.warning(
                        request,
                        ngettext(
                            "%(n)s credit waits for review: %(reasons)s",
                            "%(n)s credits wait for review: %(reasons)s",
                            len(reasons),
                        )
                        % {"n": len(reasons), "reasons": listed},
                    )
        return redirect("bank")
    return render(
        request,
        "collections/bank.html",
        {
            "statements": BankStatement.objects.select_related("uploaded_by")[:20],
            "queue": BankCredit.objects.filter(status=CreditStatus.UNMATCHED).select_related(
                "statement"
            )[:200],
        },
    )


def file_upload(request, *, max_bytes: int):
    """The form's `file`, or None after telling the user why not (none chosen, too large)."""
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file."))
    elif upload.size > max_bytes:
        messages.error(
            request, _("The file is too large (at most %(mb)s MB).") % {"mb": max_bytes >> 20}
        )
    else:
        return upload
    return None


@require_POST
@tenant_required("agent")
def bank_credit_resolve(request, pk: int):
    """Assign a credit of the review queue to an invoice (by its number or external id), or
    ignore it."""
    credit = get_object_or_404(BankCredit, pk=pk)
    if request.POST.get("ignore"):
        bank_credit_ignore(credit=credit, actor=request.user)
        messages.success(request, _("Credit ignored."))
        return redirect("bank")
    ref = (request.POST.get("invoice") or "").strip()
    invoice = Invoice.objects.filter(Q(external_id=ref) | Q(number=ref)).first() if ref else None
    if invoice is None:
        messages.error(request, _("No invoice with that number."))
    else:
        try:
            bank_credit_assign(
                tenant=request.tenant, credit=credit, invoice=invoice, actor=request.user
            )
        except PaymentError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Credit recorded as a payment of %(n)s.") % {"n": invoice})
    return redirect("bank")
