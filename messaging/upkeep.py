"""The periodic upkeep of the send queue: messages whose task was lost are queued again, and
sends whose outcome is not known — their worker died after the claim, or the provider's answer
never came (`unknown`) — are settled by asking the provider that was used, never by a blind
resend."""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from messaging import hooks
from messaging.enqueue import messages_enqueue
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
        stuck = _stuck_sending(now - timedelta(seconds=STUCK_AFTER_SECONDS)) | (
            Message.objects.filter(status=MessageStatus.UNKNOWN, escalated_at__isnull=True)
        )
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
