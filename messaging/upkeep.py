"""The periodic upkeep of the send queue: messages whose task was lost are queued again, and
sends whose worker died after the claim are settled without sending them twice."""

import logging
import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from messaging.enqueue import SEND_BATCH, messages_enqueue, messages_schedule
from messaging.models import Message, MessageStatus
from messaging.providers import OutgoingMessage, provider_for
from messaging.transitions import message_transition
from tenants.models import Tenant

logger = logging.getLogger(__name__)

STUCK_SEND_ERROR = (
    "Send interrupted; not retried automatically to avoid a duplicate — check the provider "
    "and resend by hand if needed"
)

# How long a queued message may wait for its task before the due tick takes the task for lost
# (SEND_STALE_AFTER_SECONDS, a minute unless set; with the tick each minute, a lost task's
# messages are queued again within 2 minutes): with one task reserved per pool slot, a
# live worker holds no batch it is not running, so a message waits that long only behind a
# backlog in the broker (where queuing it again costs one more cheap task: the claim makes it
# harmless) or because its task is gone.
STALE_AFTER_SECONDS = settings.SEND_STALE_AFTER_SECONDS


def _stale_queued(now: datetime):
    """Queued messages whose task should have run by `now`: due (`next_attempt_at` passed:
    a send window that opened, a backoff that ended, a lease of the requeue that ran out), or
    queued more than STALE_AFTER_SECONDS ago with no time set."""
    cutoff = now - timedelta(seconds=STALE_AFTER_SECONDS)
    return Message.objects.filter(status=MessageStatus.QUEUED).filter(
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff)
    )


def messages_requeue_stale(*, tenant: Tenant) -> int:
    """Queue, in send batches, the queued messages now due or whose task was lost (a broker
    restart, a crash right after commit, a worker killed with its batch); see `_stale_queued`.
    Messages waiting for their send window or a retry's backoff are left alone until then.
    Each one queued gets a lease (`next_attempt_at` STALE_AFTER_SECONDS ahead): it is not
    queued again before, however long the backlog it joins. Safe: sending claims the message
    first, so a task that was only late finds nothing to do. Returns how many were queued."""
    now = timezone.now()
    ids = list(_stale_queued(now).order_by("id").values_list("id", flat=True)[:5000])
    if ids:
        lease = now + timedelta(seconds=STALE_AFTER_SECONDS)
        messages_schedule(tenant=tenant, message_ids=ids, at=lease)
        messages_enqueue(tenant=tenant, message_ids=ids)
    return len(ids)


# A send task's worst case, derived as messaging.tasks derives its time limits: provider calls
# of a batch (ceil(SEND_BATCH / MESSAGING_SEND_CONCURRENCY) rounds of a connect and a read of
# PROVIDER_TIMEOUT_SECONDS), then SEND_BATCH_OVERHEAD_SECONDS for the soft limit, as much for
# the hard limit, and as much again here for the workers' clocks (`sending_at` is one
# worker's, the upkeep reads another's): 120 + 30 + 30 + 30 = 210 s by default. So no worker
# still holds a message the upkeep takes for stuck (tests/config/test_task_time_limits.py).
STUCK_AFTER_SECONDS = (
    math.ceil(
        math.ceil(SEND_BATCH / settings.MESSAGING_SEND_CONCURRENCY)
        * 2
        * settings.PROVIDER_TIMEOUT_SECONDS
    )
    + 3 * settings.SEND_BATCH_OVERHEAD_SECONDS
)


def _stuck_sending(cutoff: datetime):
    return Message.objects.filter(status=MessageStatus.SENDING).filter(
        Q(sending_at__lte=cutoff) | Q(sending_at__isnull=True)
    )


def messages_upkeep_tenants(
    *, tenant_ids: list[int], stuck: bool = True
) -> tuple[set[int], set[int]]:
    """Of these tenants, (those with stale queued messages, those with stuck sends): two
    queries for all of them (one without `stuck`), so the periodic upkeep visits only tenants
    with work."""
    now = timezone.now()
    with scopes_disabled():
        found = [_stale_queued(now)]
        if stuck:
            found.append(_stuck_sending(now - timedelta(seconds=STUCK_AFTER_SECONDS)))
        tenants = [
            set(
                qs.filter(tenant_id__in=tenant_ids)
                .order_by()
                .values_list("tenant_id", flat=True)
                .distinct()
            )
            for qs in found
        ]
        return tenants[0], tenants[1] if stuck else set()


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
