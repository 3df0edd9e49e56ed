"""The replies queue: customers' replies waiting for an answer, and unknown senders."""

from datetime import timedelta

from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from collections_app.models import (
    Customer,
    FollowUpTask,
    TaskStatus,
)
from messaging.models import InboundMessage
from tenants.decorators import tenant_required


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
