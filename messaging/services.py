import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from tenants.models import Tenant
from tenants.selectors import tenant_next_send_time

from . import hooks
from .email_html import text_to_html
from .models import InboundMessage, Message, MessageStatus, ProviderKind
from .providers import OutgoingMessage, TransportError, provider_for
from .ratelimit import send_wait
from .templating import TemplateRenderError, template_render
from .unsubscribe import unsubscribe_headers

logger = logging.getLogger(__name__)

FINAL_STATUSES = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.FAILED,
    MessageStatus.UNDELIVERED,
    MessageStatus.CANCELLED,
}


STUCK_SEND_ERROR = (
    "Send interrupted; not retried automatically to avoid a duplicate — check the provider "
    "and resend by hand if needed"
)


@dataclass(frozen=True)
class SendOutcome:
    status: str
    retry: bool = False
    defer_until: datetime | None = None


def _transition(message: Message, *, from_status: str, to_status: str, **fields) -> bool:
    """Conditional status change: true only for the caller whose UPDATE moved the row."""
    moved = Message.objects.filter(pk=message.pk, status=from_status).update(
        status=to_status, **fields
    )
    if moved:
        old = message.status
        message.status = to_status
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(message, name, value)
        hooks.message_status_changed.send(
            sender=Message, message=message, old_status=old, new_status=to_status
        )
    return bool(moved)


def message_cancel(*, tenant: Tenant, message: Message, reason: str) -> bool:
    """Cancel a message that has not left yet. Returns whether this call cancelled it."""
    return _transition(
        message,
        from_status=MessageStatus.QUEUED,
        to_status=MessageStatus.CANCELLED,
        error=reason,
        failed_at=timezone.now(),
    )


def message_fail(*, tenant: Tenant, message: Message, reason: str) -> bool:
    """End a queued message as failed (e.g. out of retries). Returns whether this call did."""
    return _transition(
        message,
        from_status=MessageStatus.QUEUED,
        to_status=MessageStatus.FAILED,
        error=reason,
        failed_at=timezone.now(),
    )


def message_send(*, tenant: Tenant, message_id: int, now: datetime | None = None) -> SendOutcome:
    """Send one queued message at most once.

    Outside the tenant's send window the message stays queued and the outcome says when to try
    again; so does a send over the tenant's or the provider account's rate limit. A domain
    reason (paid meanwhile, opted out) cancels it. Otherwise the message is
    claimed queued→sending by a conditional UPDATE — a second worker, a redelivered task or a
    re-run finds nothing to claim and calls no provider. Rendering happens now, so amounts are
    current; a broken template fails this message only. A transient provider error puts it
    back to queued for a retry; a permanent one fails it with the reason. A crash after the
    claim leaves it in `sending` for reconciliation, never for a blind resend.
    """
    message = Message.objects.filter(pk=message_id).first()
    if message is None or message.status != MessageStatus.QUEUED:
        return SendOutcome(status=message.status if message else "missing")
    opens_at = tenant_next_send_time(tenant=tenant, now=now)
    if opens_at is not None:
        return SendOutcome(status=message.status, defer_until=opens_at)
    reason = hooks.message_cancel_reason(message)
    if reason:
        message_cancel(tenant=tenant, message=message, reason=reason)
        return SendOutcome(status=MessageStatus.CANCELLED)
    try:
        kind, provider = provider_for(tenant=tenant, channel=message.channel)
    except TransportError as exc:
        kind, provider, unavailable = "", None, exc
    else:
        unavailable = None
        wait = send_wait(tenant_id=tenant.pk, provider_key=provider.account_key, provider_kind=kind)
        if wait:
            # Over the tenant's or the provider's rate: wait for the next token.
            return SendOutcome(
                status=message.status, defer_until=timezone.now() + timedelta(seconds=wait)
            )
    if not _transition(
        message,
        from_status=MessageStatus.QUEUED,
        to_status=MessageStatus.SENDING,
        sending_at=timezone.now(),
        attempts=F("attempts") + 1,
    ):
        return SendOutcome(status="claimed-elsewhere")

    try:
        rendered = _render(message)
    except TemplateRenderError as exc:
        _transition(
            message,
            from_status=MessageStatus.SENDING,
            to_status=MessageStatus.FAILED,
            error=f"Template: {exc}",
            failed_at=timezone.now(),
        )
        return SendOutcome(status=MessageStatus.FAILED)

    try:
        if unavailable is not None:
            raise unavailable
        result = provider.send(
            OutgoingMessage(
                ref=message.ref,
                channel=message.channel,
                recipient=message.recipient,
                subject=rendered.subject,
                body=rendered.body,
                sender=provider.sender,
                html_body=rendered.html_body,
                headers=unsubscribe_headers(message) if message.channel == "email" else {},
                content_sid=rendered.content_sid,
                content_variables=rendered.content_variables or {},
                status_callback=status_callback_url(tenant=tenant, kind=kind),
                session_open=message.channel == "whatsapp"
                and whatsapp_session_open(tenant=tenant, recipient=message.recipient),
            )
        )
    except TransportError as exc:
        if exc.permanent:
            _transition(
                message,
                from_status=MessageStatus.SENDING,
                to_status=MessageStatus.FAILED,
                error=str(exc),
                failed_at=timezone.now(),
                subject=rendered.subject,
                body=rendered.body,
            )
            if exc.bad_contact:
                hooks.contact_refused.send(
                    sender=Message, message=message, reason=str(exc), opt_out=exc.opt_out
                )
            return SendOutcome(status=MessageStatus.FAILED)
        _transition(
            message,
            from_status=MessageStatus.SENDING,
            to_status=MessageStatus.QUEUED,
            error=str(exc),
        )
        return SendOutcome(status=MessageStatus.QUEUED, retry=True)

    _transition(
        message,
        from_status=MessageStatus.SENDING,
        to_status=MessageStatus.SENT,
        provider=kind,
        provider_message_id=result.provider_message_id,
        subject=rendered.subject,
        body=rendered.body,
        sent_at=timezone.now(),
        error="",
    )
    return SendOutcome(status=MessageStatus.SENT)


def status_callback_url(*, tenant: Tenant, kind: str) -> str:
    """Where the provider reports the message's delivery status (Twilio only: SendGrid's
    events go to the account-wide Event Webhook)."""
    if kind in (ProviderKind.TWILIO_SMS, ProviderKind.TWILIO_WHATSAPP):
        return f"{settings.PUBLIC_BASE_URL}{reverse('webhook_twilio_status', args=[tenant.slug])}"
    return ""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    content_sid: str = ""
    content_variables: dict | None = None
    html_body: str = ""


def _render(message: Message) -> Rendered:
    if message.template_id is None:
        return Rendered(message.subject, message.body)  # manual messages arrive rendered
    context = hooks.message_context(message)
    template = message.template
    subject = template_render(template.subject, context) if template.subject else ""
    html_body = ""
    if message.channel == "email":
        html_body = text_to_html(template_render(template.body, context, html=True))
    rendered = Rendered(subject, template_render(template.body, context), html_body=html_body)
    if message.channel == "whatsapp" and template.content_sid:
        missing = [name for name in template.content_variables if name not in context]
        if missing:
            raise TemplateRenderError(
                f"WhatsApp template variable(s) not available: {', '.join(missing)}"
            )
        variables = {
            str(n): str(context[name]) for n, name in enumerate(template.content_variables, 1)
        }
        rendered = Rendered(subject, rendered.body, template.content_sid, variables)
    return rendered


# What a provider's delivery report may move a message to, from where. Reports arrive late,
# twice or out of order: a move is taken only forward, and a replay changes nothing.
_REPORT_MOVES = {
    MessageStatus.SENT: {
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERED,
    },
    MessageStatus.DELIVERED: {MessageStatus.READ},
}
_REPORT_STAMPS = {
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.FAILED: "failed_at",
    MessageStatus.UNDELIVERED: "failed_at",
}


def message_status_report(
    *,
    tenant: Tenant,
    status: str,
    provider_message_id: str = "",
    ref: str = "",
    error: str = "",
    refused: str | None = None,
) -> Message | None:
    """Apply a provider's delivery report (delivered, read, failed, undelivered) to the
    tenant's message with that provider id, or that Régua reference. Returns the message if
    its status changed, else None (unknown message, a replay, or a report older than what the
    message already shows). `refused` ("invalid" or "opt_out") says the report refused the
    recipient for good: the contact is flagged (`hooks.contact_refused`)."""
    if ref:
        message = Message.objects.filter(ref=ref).first()
    elif provider_message_id:
        message = Message.objects.filter(provider_message_id=provider_message_id).first()
    else:
        return None
    if message is None or status not in _REPORT_MOVES.get(message.status, ()):
        return None
    fields = {_REPORT_STAMPS[status]: timezone.now()}
    if status == MessageStatus.READ and message.delivered_at is None:
        fields["delivered_at"] = fields["read_at"]
    if error:
        fields["error"] = error
    moved = _transition(message, from_status=message.status, to_status=status, **fields)
    if moved and refused is not None:
        hooks.contact_refused.send(
            sender=Message, message=message, reason=error, opt_out=refused == "opt_out"
        )
    return message if moved else None


WHATSAPP_SESSION = timedelta(hours=24)


def inbound_record(
    *, tenant: Tenant, channel: str, sender: str, body: str, provider: str, provider_message_id: str
) -> InboundMessage | None:
    """Record a message a customer sent, once per provider id, and tell the domain
    (`hooks.inbound_received`). Returns None for a redelivery already recorded."""
    with transaction.atomic():
        inbound, created = InboundMessage.objects.get_or_create(
            tenant=tenant,
            provider_message_id=provider_message_id,
            defaults={"channel": channel, "sender": sender, "body": body, "provider": provider},
        )
        if not created:
            return None
        hooks.inbound_received.send(sender=InboundMessage, inbound=inbound)
    return inbound


def whatsapp_session_open(*, tenant: Tenant, recipient: str, now: datetime | None = None) -> bool:
    """Whether the customer wrote to the tenant on WhatsApp in the last 24 hours, which lets
    a free-text WhatsApp message through."""
    since = (now or timezone.now()) - WHATSAPP_SESSION
    return InboundMessage.objects.filter(
        channel="whatsapp", sender=recipient, received_at__gte=since
    ).exists()


SEND_BATCH = 100


def messages_enqueue(*, tenant: Tenant, message_ids: list[int]) -> None:
    """Queue the sends, in batches of SEND_BATCH messages per task, once the surrounding
    transaction commits (a worker must find the rows)."""
    from .tasks import send_messages

    def _enqueue() -> None:
        for i in range(0, len(message_ids), SEND_BATCH):
            send_messages.apply_async(
                kwargs={"message_ids": message_ids[i : i + SEND_BATCH], "tenant_id": tenant.pk}
            )

    if message_ids:
        transaction.on_commit(_enqueue)


FAN_OUT_CHUNK = 10_000


def messages_enqueue_many(*, message_ids: list[int]) -> None:
    """Queue the sends of many messages, of any tenants, once the surrounding transaction
    commits: a few fan-out tasks, each of which a worker turns into per-tenant batches of
    SEND_BATCH. A day's evaluation of many tenants pays a handful of broker round trips in its
    transaction instead of one per tenant."""
    from .tasks import messages_fan_out

    def _enqueue() -> None:
        for i in range(0, len(message_ids), FAN_OUT_CHUNK):
            messages_fan_out.apply_async(kwargs={"message_ids": message_ids[i : i + FAN_OUT_CHUNK]})

    if message_ids:
        transaction.on_commit(_enqueue)


def messages_fan_out_batches(*, message_ids: list[int]) -> list[tuple[int, list[int]]]:
    """The (tenant id, message ids) send batches for the given messages still queued, in id
    order, at most SEND_BATCH messages each."""
    by_tenant: dict[int, list[int]] = defaultdict(list)
    with scopes_disabled():
        rows = (
            Message.objects.filter(pk__in=message_ids, status=MessageStatus.QUEUED)
            .order_by("tenant_id", "id")
            .values_list("tenant_id", "id")
        )
        for tenant_id, message_id in rows:
            by_tenant[tenant_id].append(message_id)
    return [
        (tenant_id, ids[i : i + SEND_BATCH])
        for tenant_id, ids in by_tenant.items()
        for i in range(0, len(ids), SEND_BATCH)
    ]


def messages_schedule(*, tenant: Tenant, message_ids: list[int], at: datetime) -> int:
    """Record when these queued messages are next due to be tried (their task was queued
    again for then), so the upkeep does not take them for lost. Returns how many changed."""
    return Message.objects.filter(pk__in=message_ids, status=MessageStatus.QUEUED).update(
        next_attempt_at=at
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
                moved = _transition(
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
                moved = _transition(
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


def provider_accounts_rotate_keys() -> int:
    """Re-encrypt every provider account's credentials with the first FIELD_ENCRYPTION_KEY.
    Put the new key first, keep the old ones after it, run this, then drop the old keys."""
    from django_scopes import scopes_disabled

    from . import crypto
    from .models import ProviderAccount

    rotated = 0
    with scopes_disabled(), transaction.atomic():
        for account in ProviderAccount.objects.select_for_update().exclude(
            credentials_encrypted=""
        ):
            account.credentials_encrypted = crypto.rotate(account.credentials_encrypted)
            account.save(update_fields=["credentials_encrypted"])
            rotated += 1
    return rotated
