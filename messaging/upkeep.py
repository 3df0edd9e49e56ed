"""The periodic upkeep of the send queue: messages whose task was lost are queued again, and
sends whose outcome is not known — their worker died after the claim, or the provider's answer
never came (`unknown`) — are settled by asking the provider that was used, never by a blind
resend."""

import logging
import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from messaging import hooks
from messaging.enqueue import SEND_BATCH, messages_enqueue, messages_schedule
from messaging.models import Message, MessageStatus
from messaging.providers import Lookup, OutgoingMessage, provider_of_send
from messaging.transitions import message_transition, messages_transition
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# The notes reconciliation leaves on a message (its `error`), shown in the timeline.
FOUND_NOTE = "Confirmed by the provider after the send was interrupted or unanswered"
RESENT_NOTE = "The provider confirmed it never received the message: sent again once"
ASKING_NOTE = "Send interrupted; outcome unknown, asking the provider"
NEEDS_PERSON_NOTE = (
    "Outcome unknown: the provider could not confirm whether it received the message; not "
    "sent again automatically — a task asks a person to check"
)
ABSENT_AGAIN_NOTE = (
    "The provider never received the message although it was already sent again once; not "
    "sent a third time — a task asks a person to check"
)
# A send the provider cannot settle this long after its claim goes to a person (until then
# each tick asks again: a lookup that failed may answer next time).
ESCALATE_AFTER_SECONDS = 1800

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
            found.append(
                _stuck_sending(now - timedelta(seconds=STUCK_AFTER_SECONDS))
                | Message.objects.filter(status=MessageStatus.UNKNOWN, escalated_at__isnull=True)
            )
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
    """Settle this tenant's sends whose outcome is not known: messages left in `sending` for
    longer than `older_than_seconds` (their worker died after the claim) and messages in
    `unknown` (the provider's answer never came) not yet handed to a person. Returns how many
    changed.

    The provider account each message was claimed for is asked (`Provider.lookup_many`),
    never asked to send:
    - found → `sent` with the provider's id, sent at its claim;
    - confirmed absent (the provider's own record is complete for it) → `queued` again, once
      (`resent`); absent a second time → a person decides;
    - the provider cannot tell (no lookup, a failed one, too early) → `unknown`, asked again
      each tick until ESCALATE_AFTER_SECONDS after the claim; then the domain is told a person
      must check (`hooks.message_needs_attention`, once) and the message stays `unknown`.
    Each change is the same conditional transition a worker makes, so a late worker finishing
    meanwhile wins or loses cleanly, and the timeline hears of it, with the note in `error`.
    Runs inside the tenant's scope."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    stuck = list(
        _stuck_sending(cutoff).filter(tenant=tenant).select_related("provider_account")[:5000]
    )
    unknown = list(
        Message.objects.filter(
            tenant=tenant, status=MessageStatus.UNKNOWN, escalated_at__isnull=True
        ).select_related("provider_account")[:5000]
    )
    groups: dict[tuple, list[Message]] = defaultdict(list)
    for message in sorted(stuck + unknown, key=lambda m: m.pk):
        groups[
            (
                message.channel,
                message.provider,
                message.provider_account_id,
                message.provider_account_key,
            )
        ].append(message)

    found, resend, asking, attention = [], [], [], []
    for (channel, kind, _account_id, _key), messages in groups.items():
        found_kind, lookup = _provider_lookup(tenant=tenant, channel=channel, messages=messages)
        for message in messages:
            provider_id = lookup.found.get(message.ref)
            if provider_id is not None:
                found.append((message, found_kind or kind, provider_id))
            elif message.ref in lookup.absent and not message.resent:
                resend.append(message)
            elif message.ref in lookup.absent:
                attention.append((message, ABSENT_AGAIN_NOTE))
            elif (message.sending_at or now) <= now - timedelta(seconds=ESCALATE_AFTER_SECONDS):
                attention.append((message, NEEDS_PERSON_NOTE))
            elif message.status == MessageStatus.SENDING:
                asking.append(message)

    changed = 0
    for status in (MessageStatus.SENDING, MessageStatus.UNKNOWN):
        changed += len(
            messages_transition(
                [
                    (
                        m,
                        {
                            "provider": kind,
                            "provider_message_id": provider_id,
                            # The provider was called right after the claim, not now.
                            "sent_at": m.sending_at or now,
                            "error": FOUND_NOTE,
                        },
                    )
                    for m, kind, provider_id in found
                    if m.status == status
                ],
                from_status=status,
                to_status=MessageStatus.SENT,
            )
        )
        requeued = messages_transition(
            [
                (m, {"resent": True, "error": RESENT_NOTE, "next_attempt_at": None})
                for m in resend
                if m.status == status
            ],
            from_status=status,
            to_status=MessageStatus.QUEUED,
        )
        changed += len(requeued)
        if requeued:
            messages_enqueue(tenant=tenant, message_ids=[m.pk for m in requeued])
    changed += len(
        messages_transition(
            [(m, {"error": ASKING_NOTE}) for m in asking],
            from_status=MessageStatus.SENDING,
            to_status=MessageStatus.UNKNOWN,
        )
    )
    changed += _messages_escalate(attention, now=now)
    return changed


def _messages_escalate(rows: list[tuple[Message, str]], *, now) -> int:
    """Hand these sends to a person: `unknown`, marked escalated, with the note, and the domain
    told once per message (it opens a task)."""
    escalated = []
    for message, note in rows:
        if message.status == MessageStatus.SENDING:
            moved = message_transition(
                message,
                from_status=MessageStatus.SENDING,
                to_status=MessageStatus.UNKNOWN,
                error=note,
                escalated_at=now,
            )
        else:
            # Already `unknown`: no status change, only the mark (once, conditionally).
            moved = bool(
                Message.objects.filter(
                    pk=message.pk, status=MessageStatus.UNKNOWN, escalated_at__isnull=True
                ).update(error=note, escalated_at=now)
            )
            if moved:
                message.error, message.escalated_at = note, now
        if moved:
            escalated.append((message, note))
    for message, note in escalated:
        logger.warning("message %s: send outcome unknown, handed to a person: %s", message.pk, note)
        hooks.message_needs_attention.send(sender=Message, message=message, reason=note)
    return len(escalated)


def _provider_lookup(
    *, tenant: Tenant, channel: str, messages: list[Message]
) -> tuple[str, Lookup]:
    """The provider kind these messages were claimed for, and what its account knows of them:
    one bulk lookup per account, so a provider reading a log (the console outbox) reads it
    once. The messages of one call share their channel, kind and account."""
    first = messages[0]
    claims = [m.sending_at for m in messages if m.sending_at is not None]
    # Provider ids other messages to these recipients hold since the claims: a listed message
    # with one of them is that message's (the same text twice), never this one's.
    known_ids = set(
        Message.objects.filter(
            recipient__in={m.recipient for m in messages},
            sent_at__gte=(min(claims) if claims else timezone.now()) - timedelta(days=1),
        )
        .exclude(pk__in=[m.pk for m in messages])
        .exclude(provider_message_id="")
        .values_list("provider_message_id", flat=True)
    )
    try:
        kind, provider = provider_of_send(
            tenant=tenant, channel=channel, kind=first.provider, account=first.provider_account
        )
        if first.provider_account_key and provider.account_key != first.provider_account_key:
            # Not the credentials the send used (the tenant's account was deleted, or the
            # platform's changed): its record proves nothing either way.
            logger.warning(
                "messages %s: the account used for the send is gone; the provider cannot tell",
                [m.pk for m in messages],
            )
            return kind, Lookup()
        return kind, provider.lookup_many(
            [
                OutgoingMessage(
                    ref=message.ref,
                    channel=message.channel,
                    recipient=message.recipient,
                    subject=message.subject,
                    body=message.body,
                    sender=provider.sender,
                    claimed_at=message.sending_at,
                )
                for message in messages
            ],
            known_ids=known_ids,
        )
    except Exception:
        # A lookup that fails cannot tell: the messages stay unknown (asked again next tick,
        # then handed to a person), never resent.
        logger.exception("provider lookup failed for %s messages of tenant %s", channel, tenant.pk)
        return first.provider, Lookup()


def message_found(
    *, tenant: Tenant, ref: str, provider_message_id: str, note: str = FOUND_NOTE
) -> Message | None:
    """A provider's report (Twilio's status callback, SendGrid's event) about the message
    with Régua reference `ref` proves the provider has it: a message still `unknown`, or
    `sending` with its worker gone, becomes `sent` with the provider's id. Returns the message
    if this call moved it."""
    message = Message.objects.filter(
        ref=ref, status__in=[MessageStatus.UNKNOWN, MessageStatus.SENDING]
    ).first()
    if message is None or not provider_message_id:
        return None
    moved = message_transition(
        message,
        from_status=message.status,
        to_status=MessageStatus.SENT,
        provider_message_id=provider_message_id,
        sent_at=message.sending_at or timezone.now(),
        error=note,
    )
    return message if moved else None
