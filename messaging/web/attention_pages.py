"""The "Envios com problema" page: the company's messages that failed, were not delivered,
have an unknown outcome at the provider or are stuck while sending, with the reason and the
provider's answer; admins and owners only (the reasons name recipients and providers, and the
actions settle sends). A person who checked the provider settles an `unknown` message here."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from messaging.attention import (
    ATTENTION_STATES,
    RESOLVED_NOT_SENT,
    RESOLVED_SENT,
    STUCK,
    ResolveError,
    attention_counts,
    attention_messages,
    message_resolve_by_person,
    own_error_text,
)
from messaging.models import Channel, Message, MessageStatus, ProviderKind
from messaging.web.access import ADMIN
from tenants.decorators import tenant_required

PER_PAGE = 50


def _label(choices, code: str) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return ""


def _row_state(message: Message) -> str:
    """Its filter's name: only stuck sends are listed in `sending`."""
    return STUCK if message.status == MessageStatus.SENDING else message.status


def _rows(page) -> None:
    """Each message of the page with what its row shows: its state's words, the provider's
    name, when it happened, and the invoices it is about (read in one query for the page)."""
    for message in page.object_list:
        message.state = _row_state(message)
        message.state_label = str(ATTENTION_STATES.get(message.state, ""))
        message.channel_label = _label(Channel, message.channel)
        message.provider_label = _label(ProviderKind, message.provider)
        message.when = message.failed_at or message.sending_at or message.created_at
        # Régua's own reason in words; a provider's answer as it came (`provider_answer`).
        message.own_reason = own_error_text(message.error)
        # The domain links messages to invoices; the page follows that relation by its name.
        message.invoices = [link.invoice for link in message.invoice_links.all()]


@require_GET
@tenant_required(ADMIN)
def message_problems(request):
    """The messages needing attention, newest first, filtered by state and channel."""
    now = timezone.now()
    state = request.GET.get("state", "")
    state = state if state in ATTENTION_STATES else ""
    channel = request.GET.get("channel", "")
    channel = channel if channel in Channel.values else ""
    qs = attention_messages(now=now, state=state, channel=channel).prefetch_related(
        "invoice_links__invoice__customer"
    )
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    _rows(page)
    counts = attention_counts(now=now)
    return render(
        request,
        "messaging/problems.html",
        {
            "page": page,
            "state": state,
            "channel": channel,
            "states": [
                {"value": value, "label": label, "count": counts[value]}
                for value, label in ATTENTION_STATES.items()
            ],
            "channels": Channel.choices,
            "resolved_sent": RESOLVED_SENT,
            "resolved_not_sent": RESOLVED_NOT_SENT,
        },
    )


@require_POST
@tenant_required(ADMIN)
def message_resolve(request, pk: int):
    """A person who checked the provider settles an `unknown` message: sent, or not sent (it
    goes once more). The page comes back with what happened."""
    message = get_object_or_404(Message, pk=pk)
    outcome = request.POST.get("outcome", "")
    if outcome not in (RESOLVED_SENT, RESOLVED_NOT_SENT):
        return HttpResponseBadRequest(_("Choose whether the provider has the message."))
    try:
        status = message_resolve_by_person(
            tenant=request.tenant, message=message, outcome=outcome, actor=request.user
        )
    except ResolveError:
        messages.error(
            request,
            _("This message was settled meanwhile; nothing was changed. See its state below."),
        )
    else:
        if status == MessageStatus.SENT:
            messages.success(request, _("Marked as sent. Nothing will be sent again."))
        else:
            messages.success(request, _("Marked as not sent: it will be sent once more."))
    # Back to the list as it was filtered (only the known filters, as the list reads them).
    kept = {
        "state": request.POST.get("state", ""),
        "channel": request.POST.get("channel", ""),
        "page": request.POST.get("page", ""),
    }
    kept = {
        name: value
        for name, value in kept.items()
        if value
        and (
            (name == "state" and value in ATTENTION_STATES)
            or (name == "channel" and value in Channel.values)
            or (name == "page" and value.isdigit())
        )
    }
    url = reverse("message_problems")
    return redirect(f"{url}?{urlencode(kept)}" if kept else url)
