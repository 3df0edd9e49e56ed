"""The work queue of follow-up tasks, and closing a task."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from collections_app.activity.followups import task_close
from collections_app.models import FollowUpTask, TaskStatus
from tenants.decorators import tenant_required
from tenants.next_url import next_url
from tenants.selectors import tenant_today

TASK_FILTERS = {"mine", "unassigned", "all"}


TASK_ORIGINS = [
    ("step", gettext_lazy("Ladder step")),
    ("escalation", gettext_lazy("Escalation")),
    ("reply", gettext_lazy("Reply")),
    ("payment_claim", gettext_lazy("Payment to check")),
    ("instalments", gettext_lazy("Instalment request")),
    ("agreement", gettext_lazy("Broken agreement")),
    ("overpayment", gettext_lazy("Overpayment")),
    ("message_check", gettext_lazy("Send to confirm")),
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
    task_close(tenant=request.tenant, task=task, actor=request.user)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Task done."))
    return redirect(next_url(request, "task_list"))
