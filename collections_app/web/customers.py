"""The customer screen: the customer's invoices and timeline, an agent's actions (a call, a
note, a pause of every reminder) and an admin's LGPD requests (export, erase)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from collections_app.activity.agent_actions import (
    CALL_OUTCOMES,
    ActionError,
    customer_pause,
)
from collections_app.exports.lgpd import customer_erase, customer_export
from collections_app.invoices.selectors import (
    CUSTOMER_SORTS,
    customer_open_balance,
    customers_with_balances,
    document_display,
)
from collections_app.models import (
    Customer,
)
from collections_app.web.agent_forms import call_or_note_record, pause_until
from tenants.decorators import tenant_required
from tenants.selectors import tenant_today


@require_GET
@tenant_required()
def customer_list(request):
    """The customers: open balance, overdue amount, segment, payment behaviour and last
    contact, searched by name or CPF/CNPJ and sorted by any of them."""
    today = tenant_today(tenant=request.tenant)
    q = request.GET.get("q", "").strip()[:200]
    sort = request.GET.get("sort", "-overdue")
    if sort not in CUSTOMER_SORTS:
        sort = "-overdue"
    page = Paginator(customers_with_balances(today=today, q=q, sort=sort), 50).get_page(
        request.GET.get("page")
    )
    for customer in page.object_list:
        customer.document_display = document_display(customer.document)
    return render(
        request,
        "collections/customer_list.html",
        {"page": page, "q": q, "sort": sort, "today": today},
    )


@require_GET
@tenant_required()
def customer_detail(request, pk: int):
    return customer_page(request, get_object_or_404(Customer, pk=pk))


def customer_page(request, customer, *, posted: str = "", errors=None, status: int = 200):
    """The customer's page; after a form that did not go through (`posted` names it), with its
    error beside the field (`errors` keyed by field) and answered 400."""
    today = tenant_today(tenant=request.tenant)
    return render(
        request,
        "collections/customer_detail.html",
        {
            "customer": customer,
            "invoices": customer.invoices.order_by("-effective_due_date")[:100],
            "timeline": customer.interactions.select_related("invoice").order_by(
                "-occurred_at", "-id"
            )[:200],
            "today": today,
            "balance": customer_open_balance(customer=customer, today=today),
            "document": document_display(customer.document),
            "can_work": request.membership.has_role("agent"),
            "can_admin": request.membership.has_role("admin"),
            "call_outcomes": CALL_OUTCOMES,
            "posted": posted,
            "values": request.POST if posted else {},
            "errors": errors or {},
        },
        status=status,
    )


CUSTOMER_ACTIONS = {"call", "note", "pause", "resume"}
# The field an action's error belongs to, on the customer page (`errors` of customer_page).
CUSTOMER_ACTION_FIELDS = {"call": "call_outcome", "note": "note_text", "pause": "pause_until"}


@require_POST
@tenant_required("agent")
def customer_action(request, pk: int, action: str):
    """An agent's action on a customer: log a call or a note, pause or resume all of the
    customer's reminders."""
    if action not in CUSTOMER_ACTIONS:
        raise Http404
    customer = get_object_or_404(Customer, pk=pk)
    try:
        if action in ("call", "note"):
            done = call_or_note_record(request=request, action=action, customer_id=customer.pk)
        else:
            until = pause_until(request, action)
            customer_pause(
                tenant=request.tenant,
                customer=customer,
                actor=request.user,
                until=until,
                today=tenant_today(tenant=request.tenant),
            )
            done = _("Reminders paused.") if until else _("Reminders resumed.")
    except ActionError as exc:
        if action in CUSTOMER_ACTION_FIELDS:  # the error beside its field, the form open
            errors = {CUSTOMER_ACTION_FIELDS[action]: [str(exc)]}
            return customer_page(request, customer, posted=action, errors=errors, status=400)
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("customer_detail", pk=customer.pk)


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
        errors = {"erase_confirm": [_("Tick the confirmation to erase the personal data.")]}
        return customer_page(request, customer, posted="erase", errors=errors, status=400)
    customer_erase(tenant=request.tenant, customer=customer, actor=request.user)
    messages.success(request, _("Personal data erased; the financial records were kept."))
    return redirect("customer_detail", pk=customer.pk)
