from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from messaging.models import Message
from tenants.selectors import tenant_today

from .agreements import AgreementError, agreement_create
from .charges import invoice_charges
from .message_context import payment_url
from .models import (
    Customer,
    Dispatch,
    FollowUpTask,
    Invoice,
    InvoiceStatus,
    PaymentClaim,
    PaymentSource,
    TaskStatus,
)
from .selectors import (
    interactions_recent,
    metrics_with_previous,
    tasks_open_for,
    timeline_for_invoice,
)
from .services import PaymentError, invoice_record_payment


def tenant_required(min_role: str = "viewer"):
    """Login, a current tenant and at least `min_role` in it; checked in the view, so a client
    asking for an HTMX partial directly gets the same answer."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.membership is None:
                return redirect(f"/tenants/choose/?next={request.path}")
            if not request.membership.has_role(min_role):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@require_GET
@tenant_required()
def dashboard(request):
    tenant = request.tenant
    today = tenant_today(tenant=tenant)
    date_to = parse_date(request.GET.get("to") or "") or today
    date_from = parse_date(request.GET.get("from") or "") or date_to - timedelta(days=29)
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    metrics = metrics_with_previous(
        tenant=tenant, date_from=date_from, date_to=date_to, today=today
    )
    context = {
        "metrics": metrics,
        "previous": metrics["previous"],
        "date_from": date_from,
        "date_to": date_to,
        "interactions": interactions_recent(tenant=tenant, limit=25),
        "open_tasks": FollowUpTask.objects.filter(status=TaskStatus.OPEN).count(),
        "tasks": tasks_open_for(tenant=tenant, user=request.user),
        "overdue_count": Invoice.objects.filter(
            status=InvoiceStatus.OPEN, effective_due_date__lt=today
        ).count(),
        "messages_today": Message.objects.filter(
            created_at__gte=timezone.now() - timedelta(days=1)
        ).count(),
        "aging": [
            ("1–15", metrics["aging_1_15"]),
            ("16–30", metrics["aging_16_30"]),
            ("31–60", metrics["aging_31_60"]),
            ("61–90", metrics["aging_61_90"]),
            ("90+", metrics["aging_90_plus"]),
        ],
    }
    return render(request, "collections/dashboard.html", context)


@require_GET
@tenant_required()
def invoice_list(request):
    today = tenant_today(tenant=request.tenant)
    qs = Invoice.objects.select_related("customer").order_by("effective_due_date", "id")
    status = request.GET.get("status", "overdue")
    if status == "overdue":
        qs = qs.filter(status=InvoiceStatus.OPEN, effective_due_date__lt=today)
    elif status in InvoiceStatus.values:
        qs = qs.filter(status=status)
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(
            Q(number__icontains=q) | Q(external_id__icontains=q) | Q(customer__name__icontains=q)
        )
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    # One view serves the page or, for an HTMX request, just the rows partial it includes.
    template = "collections/_invoice_rows.html" if request.htmx else "collections/invoice_list.html"
    return render(request, template, {"page": page, "status": status, "q": q, "today": today})


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
            "dispatches": Dispatch.objects.filter(invoice=invoice)
            .select_related("step")
            .order_by("scheduled_for", "id"),
            "today": today,
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
    try:
        amount = Decimal((request.POST.get("amount") or "").replace(".", "").replace(",", "."))
    except InvalidOperation:
        amount = None
    paid_on = parse_date(request.POST.get("paid_on") or "") or tenant_today(tenant=tenant)
    paid_at = datetime.combine(paid_on, time(12), tzinfo=ZoneInfo(tenant.timezone))
    if paid_on == tenant_today(tenant=tenant):
        paid_at = min(paid_at, timezone.now())
    try:
        if amount is None or amount <= 0 or amount.as_tuple().exponent < -2:
            raise PaymentError(_("Type the amount, such as 1.234,50."))
        invoice_record_payment(
            tenant=tenant,
            invoice=invoice,
            amount=amount,
            paid_at=paid_at,
            source=PaymentSource.MANUAL,
            actor=request.user,
        )
    except PaymentError as exc:
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
        total = Decimal(total_text.replace(".", "").replace(",", ".")) if total_text else None
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
    except (AgreementError, InvalidOperation, ValueError) as exc:
        messages.error(
            request, str(exc) if isinstance(exc, AgreementError) else _("Invalid value.")
        )
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
        },
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
