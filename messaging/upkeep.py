"""The periodic upkeep of the send queue: messages whose task was lost are queued again, and
sends whose worker died after the claim are settled without sending them twice."""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from messaging.enqueue import messages_enqueue
from messaging.models import Message, MessageStatus
from messaging.providers import OutgoingMessage, provider_for
from messaging.transitions import message_transition
from tenants.models import Tenant

logger = logging.getLogger(__name__)

STUCK_SEND_ERROR = (
    "Send interrupted; not retried automatically to avoid a duplicate — check the provider "
    "and resend by hand if needed"
)

STALE_AFTER_SECONDS = 600


def _stale_queued(cutoff: datetime):
    """Queued messages that should have been tried before `cutoff`: created before it and not
    scheduled for later (or scheduled before it)."""
    return Message.objects.filter(status=MessageStatus.QUEUED, created_at__lt=cutoff).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff)
    )


def messages_requeue_stale(*, tenant: Tenant, older_than_seconds: int = STALE_AFTER_SECONDS) -> int:
    """Queue again, in send batches, the queued messages that should have been tried more
    than `older_than_seconds` ago (their task was lost: a broker restart, a crash right after
    commit). Messages waiting for their send window or a retry's backoff are left alone. Safe:
    sending claims the message first, so a task that was only late finds nothing to do.
    Returns how many were queued again."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(_stale_queued(cutoff).order_by("id").values_list("id", flat=True)[:5000])
    messages_enqueue(tenant=tenant, message_ids=ids)
    return len(ids)


# Every send task's time limit is under this (messaging.tasks): no worker still holds a
# message the upkeep takes for stuck.
STUCK_AFTER_SECONDS = 900


def _stuck_sending(cutoff: datetime):
    return Message.objects.filter(status=MessageStatus.SENDING).filter(
        Q(sending_at__lte=cutoff) | Q(sending_at__isnull=True)
    )


def messages_upkeep_tenants(*, tenant_ids: list[int]) -> tuple[set[int], set[int]]:
    """Of these tenants, (those with stale queued messages, those with stuck sends): two
    queries for all of them, so the periodic upkeep visits only tenants with work."""
    now = timezone.now()
    with scopes_disabled():
        stale = _stale_queued(now - timedelta(seconds=STALE_AFTER_SECONDS))
        stuck = _stuck_sending(now - timedelta(seconds=STUCK_AFTER_SECONDS))
        return tuple(
            set(
                qs.filter(tenant_id__in=tenant_ids)
                .order_by()
                .values_list("tenant_id", flat=True)
                .distinct()
            )
            for qs in (stale, stuck)
        )


def messages_reconcile_stuck(
    *, tenant: Tenant, older_than_seconds: int = STUCK_AFTER_SECONDS
) -> int:
    """Settle this tenant's messages left in `sending` for longer than `older_than_seconds`
    (their worker died after the claim, before recording the result). Returns how many were
    settled.

    The provider is asked whether it has a record of each message, and never asked to send
    it: known → `sent` with the provider's id; unknown, or the provider cannot tell → `failed`
    with a reason that says to check and resend by hand. A duplicate reminder is worse than a
    missing one a person can resend. Each change is the same conditional transition a worker
    makes, so a late worker finishing meanwhile wins or loses cleanly, and the timeline hears
    of it. Runs inside the tenant's scope."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = list(_stuck_sending(cutoff).filter(tenant=tenant).order_by("id")[:5000])
    by_channel: dict[str, list[Message]] = defaultdict(list)
    for message in stuck:
        by_channel[message.channel].append(message)

    reconciled = 0
    for channel, messages in by_channel.items():
        kind, found = _provider_lookup(tenant=tenant, channel=channel, messages=messages)
        for message in messages:
            provider_id = found.get(message.ref)
            if provider_id:
                moved = message_transition(
                    message,
                    from_status=MessageStatus.SENDING,
                    to_status=MessageStatus.SENT,
                    provider=kind,
                    provider_message_id=provider_id,
                    # The provider was called right after the claim, not at reconciliation.
                    sent_at=message.sending_at or timezone.now(),
                    error="",
                )
            else:
                moved = message_transition(
                    message,
                    from_status=MessageStatus.SENDING,
                    to_status=MessageStatus.FAILED,
                    error=STUCK_SEND_ERROR,
                    failed_at=timezone.now(),
                )
            reconciled += moved
    return reconciled


def _provider_lookup(
    *, tenant: Tenant, channel: str, messages: list[Message]
) -> tuple[str, dict[str, str]]:
    """The channel's provider kind and ref → provider id for the messages it knows. One bulk
    lookup per channel, so a provider reading a log (the console outbox) reads it once."""
    try:
        kind, provider = provider_for(tenant=tenant, channel=channel)
        return kind, provider.lookup_many(
            [
                OutgoingMessage(
                    ref=message.ref,
                    channel=message.channel,
                    recipient=message.recipient,
                    subject=message.subject,
                    body=message.body,
                    sender=provider.sender,
                )
                for message in messages
            ]
        )
    except Exception:
        # A lookup that fails cannot tell either; the messages fail with the "check by hand"
        # reason rather than stay in `sending` forever.
        logger.exception("provider lookup failed for %s messages of tenant %s", channel, tenant.pk)
        return "", {}
