"""Messages that need someone's attention: failed or undelivered, an outcome at the provider
that is not known (`unknown`), or a send stuck in `sending` (its worker died; the upkeep will
ask the provider). Reads for the "Envios com problema" page and the monitoring counts, and the
one write a person makes there: settling an `unknown` message after checking the provider.

Stored statuses stay codes; `ATTENTION_STATES` are the page's filters, one of which ("stuck")
is not a status but `sending` for longer than the upkeep's `STUCK_AFTER_SECONDS`."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_scopes import scopes_disabled

from messaging import hooks
from messaging.enqueue import messages_enqueue
from messaging.models import Channel, Message, MessageStatus
from messaging.transitions import message_transition
from messaging.upkeep import (
    ABSENT_AGAIN_NOTE,
    ASKING_NOTE,
    FOUND_NOTE,
    NEEDS_PERSON_NOTE,
    RESENT_NOTE,
    STUCK_AFTER_SECONDS,
)
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Failed and undelivered messages are listed for this long after they were created; `unknown`
# and stuck ones until someone (or the upkeep) settles them.
FAILED_LISTED_DAYS = 30

STUCK = "stuck"
# The page's filters, in the order the counts are shown.
ATTENTION_STATES = {
    MessageStatus.UNKNOWN.value: _("Outcome unknown"),
    STUCK: _("Stuck while sending"),
    MessageStatus.FAILED.value: _("Failed"),
    MessageStatus.UNDELIVERED.value: _("Undelivered"),
}

# What a person who checked the provider may say about an `unknown` message.
RESOLVED_SENT = "sent"
RESOLVED_NOT_SENT = "not_sent"
RESOLVED_NOT_SENT_ERROR = "Not found at the provider by a person; sent again once"

# Reasons messaging itself writes on a message (not a provider's words): shown translated.
OWN_ERRORS = {
    FOUND_NOTE: pgettext_lazy(
        "message error", "Confirmed at the provider after the send was interrupted or unanswered"
    ),
    RESENT_NOTE: pgettext_lazy(
        "message error", "The provider confirmed it never received it: sent once more"
    ),
    ASKING_NOTE: pgettext_lazy(
        "message error", "Send interrupted; outcome unknown, asking the provider"
    ),
    NEEDS_PERSON_NOTE: pgettext_lazy(
        "message error",
        "The provider could not confirm whether it received it; not sent again automatically "
        "— a task asks a person to check",
    ),
    ABSENT_AGAIN_NOTE: pgettext_lazy(
        "message error",
        "Absent at the provider although already sent once more; not sent a third time — a "
        "task asks a person to check",
    ),
    RESOLVED_NOT_SENT_ERROR: pgettext_lazy(
        "message error", "A person found it absent at the provider; sent once more"
    ),
}


def own_error_text(error: str) -> str:
    """Messaging's own reason in words, or "" when `error` is a provider's answer (shown as
    the provider wrote it)."""
    label = OWN_ERRORS.get(error)
    return str(label) if label else ""


def stuck_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=STUCK_AFTER_SECONDS)


def _state_filters(now: datetime) -> dict[str, Q]:
    recent = Q(created_at__gte=now - timedelta(days=FAILED_LISTED_DAYS))
    return {
        MessageStatus.UNKNOWN.value: Q(status=MessageStatus.UNKNOWN),
        STUCK: Q(status=MessageStatus.SENDING)
        & (Q(sending_at__lte=stuck_cutoff(now)) | Q(sending_at__isnull=True)),
        MessageStatus.FAILED.value: Q(status=MessageStatus.FAILED) & recent,
        MessageStatus.UNDELIVERED.value: Q(status=MessageStatus.UNDELIVERED) & recent,
    }


def attention_messages(*, now: datetime, state: str = "", channel: str = "") -> QuerySet[Message]:
    """The current tenant's messages needing attention (all states, or `state`), on `channel`
    if given, newest first. Each state is an equality on the status, so the reads go through
    the (tenant, status, created_at) index. Runs inside the tenant's scope."""
    filters = _state_filters(now)
    if state in filters:
        where = filters[state]
    else:
        where = Q()
        for q in filters.values():
            where |= q
    qs = Message.objects.filter(where)
    if channel in Channel.values:
        qs = qs.filter(channel=channel)
    return qs.select_related("template").order_by("-created_at", "-id")


def attention_counts(*, now: datetime) -> dict[str, int]:
    """How many of the current tenant's messages are in each state of `ATTENTION_STATES`, in
    one query. Runs inside the tenant's scope."""
    filters = _state_filters(now)
    where = Q()
    for q in filters.values():
        where |= q
    totals = Message.objects.filter(where).aggregate(
        **{state: Count("id", filter=q) for state, q in filters.items()}
    )
    return {state: totals[state] or 0 for state in ATTENTION_STATES}


@dataclass(frozen=True)
class StateCounts:
    """Messages of every tenant by state, for monitoring: the statuses still in motion, the
    sends stuck or of unknown outcome, and the failures of the last 24 hours."""

    queued: int = 0
    sending: int = 0
    stuck: int = 0
    unknown: int = 0
    failed_24h: int = 0
    undelivered_24h: int = 0
    # The oldest `unknown` message's age in seconds (0 when there is none): an alert can ask
    # for it to stay under an hour, i.e. that someone looks.
    oldest_unknown_seconds: int = 0


OPEN_STATUSES = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.UNKNOWN)
FAILED_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


def state_counts_query(*, now: datetime) -> QuerySet:
    """The one GROUP BY behind `message_state_counts` (every tenant's rows: no scope)."""
    day_ago = now - timedelta(hours=24)
    return (
        Message.objects.filter(
            Q(status__in=OPEN_STATUSES) | Q(status__in=FAILED_STATUSES, failed_at__gte=day_ago)
        )
        .order_by()
        .values("status")
        .annotate(
            total=Count("id"),
            stuck=Count(
                "id",
                filter=Q(status=MessageStatus.SENDING)
                & (Q(sending_at__lte=stuck_cutoff(now)) | Q(sending_at__isnull=True)),
            ),
            oldest=Min("created_at"),
        )
    )


def message_state_counts(*, now: datetime) -> StateCounts:
    """Every tenant's messages by state in one GROUP BY. The rows read are the open ones
    (queued, sending, unknown) and the last day's failures, through the partial index
    `message_monitoring` (status, failed_at) that holds only those statuses; the messages
    sent and delivered, nearly all of them, are never read."""
    with scopes_disabled():
        by_status = {row["status"]: row for row in state_counts_query(now=now)}

    def total(status: str) -> int:
        return by_status.get(status, {}).get("total", 0)

    oldest_unknown = by_status.get(MessageStatus.UNKNOWN, {}).get("oldest")
    return StateCounts(
        queued=total(MessageStatus.QUEUED),
        sending=total(MessageStatus.SENDING),
        stuck=by_status.get(MessageStatus.SENDING, {}).get("stuck", 0),
        unknown=total(MessageStatus.UNKNOWN),
        failed_24h=total(MessageStatus.FAILED),
        undelivered_24h=total(MessageStatus.UNDELIVERED),
        oldest_unknown_seconds=max(0, int((now - oldest_unknown).total_seconds()))
        if oldest_unknown
        else 0,
    )


class ResolveError(Exception):
    """The message cannot be settled that way (it is no longer `unknown`, or the outcome is
    not one a person may record)."""


def message_resolve_by_person(*, tenant: Tenant, message: Message, outcome: str, actor) -> str:
    """A person checked the provider for an `unknown` message and records what they found:
    `RESOLVED_SENT` (the provider has it: `sent`) or `RESOLVED_NOT_SENT` (it does not: queued
    again, to be sent once more). The same conditional transition a worker makes, so a
    reconciliation settling it meanwhile wins cleanly and this one changes nothing. The domain
    hears who did it through `hooks.message_resolved`. Returns the new status."""
    if outcome not in (RESOLVED_SENT, RESOLVED_NOT_SENT):
        raise ResolveError("unknown outcome")
    now = timezone.now()
    from_status = message.status
    with transaction.atomic():
        if outcome == RESOLVED_SENT:
            to_status = MessageStatus.SENT
            moved = message_transition(
                message,
                from_status=MessageStatus.UNKNOWN,
                to_status=to_status,
                sent_at=message.sending_at or now,
                error="",
            )
        else:
            to_status = MessageStatus.QUEUED
            moved = message_transition(
                message,
                from_status=MessageStatus.UNKNOWN,
                to_status=to_status,
                # Now rather than None: `messages_transition` sends its values as a VALUES
                # list, where PostgreSQL types a lone NULL as text.
                next_attempt_at=now,
                error=RESOLVED_NOT_SENT_ERROR,
            )
        if not moved:
            raise ResolveError("the message is no longer waiting for a check")
        hooks.message_resolved.send(
            sender=Message,
            message=message,
            actor=actor,
            from_status=from_status,
            to_status=to_status,
        )
        if to_status == MessageStatus.QUEUED:
            messages_enqueue(tenant=tenant, message_ids=[message.pk])
    logger.info(
        "message %s of tenant %s settled by user %s after checking the provider: %s",
        message.pk,
        tenant.pk,
        getattr(actor, "pk", None),
        to_status,
    )
    return to_status
