import logging
import os
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from messaging import hooks
from messaging.email_html import text_to_html
from messaging.models import InboundMessage, Message, MessageStatus, ProviderKind
from messaging.providers import OutgoingMessage, Provider, SendResult, TransportError, provider_for
from messaging.ratelimit import send_wait
from messaging.templating import TemplateRenderError, template_render
from messaging.unsubscribe import unsubscribe_headers
from tenants.models import Tenant
from tenants.selectors import tenant_next_send_time

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


_CHUNK = 200


def _transitions(
    rows: list[tuple[Message, dict]], *, from_status: str, to_status: str
) -> list[Message]:
    """Conditional status change of several messages: each row is a message and the fields to
    set with its new status (the same field names on every row). Only the messages still in
    `from_status` move, in one UPDATE per chunk; returns those — the caller's win — updated in
    memory. The domain hears of every move in one `message_status_changed` signal."""
    if not rows:
        return []
    names = sorted(rows[0][1])
    fields = [Message._meta.get_field(name) for name in names]
    status_field = Message._meta.get_field("status")
    quote = connection.ops.quote_name
    aliases = [f"c{i}" for i in range(len(fields))]
    assignments = ", ".join(
        [f"{quote(status_field.column)} = %s"]
        + [f"{quote(f.column)} = v.{alias}" for f, alias in zip(fields, aliases, strict=True)]
    )
    moved_ids: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            params: list = []
            for message, values in chunk:
                params.append(message.pk)
                params.extend(
                    field.get_db_prep_save(values[field.name], connection) for field in fields
                )
            row_sql = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
            cursor.execute(
                f"WITH v(k, {', '.join(aliases)}) AS (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"UPDATE {quote(Message._meta.db_table)} AS m SET {assignments} FROM v "
                f"WHERE m.id = v.k AND m.{quote(status_field.column)} = %s RETURNING id",
                [*params, to_status, from_status],
            )
            moved_ids.update(row[0] for row in cursor.fetchall())
    return _moved(rows, moved_ids, to_status)


def _moved(rows: list[tuple[Message, dict]], moved_ids: set[int], to_status: str) -> list[Message]:
    moved, changes = [], []
    for message, values in rows:
        if message.pk not in moved_ids:
            continue
        changes.append((message, message.status, to_status))
        message.status = to_status
        for name, value in values.items():
            setattr(message, name, value)
        moved.append(message)
    if changes:
        hooks.message_status_changed.send(sender=Message, changes=changes)
    return moved


def _transition(message: Message, *, from_status: str, to_status: str, **fields) -> bool:
    """Conditional status change of one message: true only for the caller that moved it."""
    return bool(_transitions([(message, fields)], from_status=from_status, to_status=to_status))


def _claim(messages: list[Message]) -> list[Message]:
    """queued → sending, counting the attempt, for the messages no one else claimed first."""
    if not messages:
        return []
    now = timezone.now()
    meta, quote = Message._meta, connection.ops.quote_name
    status, sending_at, attempts = (
        quote(meta.get_field(name).column) for name in ("status", "sending_at", "attempts")
    )
    prepared_now = meta.get_field("sending_at").get_db_prep_save(now, connection)
    moved_ids: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(messages), _CHUNK):
            ids = [message.pk for message in messages[start : start + _CHUNK]]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} SET {status} = %s, {sending_at} = %s, "
                f"{attempts} = {attempts} + 1 "
                f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND {status} = %s RETURNING id",
                [MessageStatus.SENDING, prepared_now, *ids, MessageStatus.QUEUED],
            )
            moved_ids.update(row[0] for row in cursor.fetchall())
    for message in messages:
        if message.pk in moved_ids:
            message.attempts += 1
    return _moved(
        [(message, {"sending_at": now}) for message in messages], moved_ids, MessageStatus.SENDING
    )


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
    """Send one queued message at most once (`messages_send` for one)."""
    return messages_send(tenant=tenant, message_ids=[message_id], now=now)[message_id]


def messages_send(
    *, tenant: Tenant, message_ids: list[int], now: datetime | None = None
) -> dict[int, SendOutcome]:
    """Send a batch of the tenant's queued messages, each at most once; returns each one's
    outcome by id.

    Outside the tenant's send window the messages stay queued and the outcome says when to try
    again; so does a send over the tenant's or the provider account's rate limit. A domain
    reason (paid meanwhile, opted out) cancels a message. The others are claimed
    queued→sending by a conditional UPDATE — a second worker, a redelivered task or a re-run
    finds nothing to claim and calls no provider. Rendering happens now, so amounts are
    current; a broken template fails that message only. The provider calls of the batch are
    in flight together (MESSAGING_SEND_CONCURRENCY per process), and their results are
    recorded together. A transient provider error puts a message back to queued for a retry;
    a permanent one fails it with the reason. A crash after the claim leaves the message in
    `sending` for reconciliation, never for a blind resend (the exception is raised once the
    batch's other results are recorded).
    """
    outcomes = {message_id: SendOutcome(status="missing") for message_id in message_ids}
    queued = []
    for message in Message.objects.filter(pk__in=message_ids).select_related("template"):
        if message.status == MessageStatus.QUEUED:
            queued.append(message)
        else:
            outcomes[message.pk] = SendOutcome(status=message.status)
    if not queued:
        return outcomes
    queued.sort(key=lambda message: message.pk)
    opens_at = tenant_next_send_time(tenant=tenant, now=now)
    if opens_at is not None:
        outcomes.update({m.pk: SendOutcome(status=m.status, defer_until=opens_at) for m in queued})
        return outcomes

    hooks.messages_prefetch(queued)
    cancels, sendable = [], []
    for message in queued:
        reason = hooks.message_cancel_reason(message)
        if reason:
            cancels.append((message, {"error": reason, "failed_at": timezone.now()}))
        else:
            sendable.append(message)
    _transitions(cancels, from_status=MessageStatus.QUEUED, to_status=MessageStatus.CANCELLED)
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.CANCELLED) for m, _ in cancels})

    accounts: dict[str, tuple[str, Provider | None, TransportError | None]] = {}
    to_claim = []
    for message in sendable:
        if message.channel not in accounts:
            try:
                kind, provider = provider_for(tenant=tenant, channel=message.channel)
                accounts[message.channel] = (kind, provider, None)
            except TransportError as exc:
                accounts[message.channel] = ("", None, exc)
        kind, provider, _unavailable = accounts[message.channel]
        if provider is not None:
            wait = send_wait(
                tenant_id=tenant.pk, provider_key=provider.account_key, provider_kind=kind
            )
            if wait:
                # Over the tenant's or the provider's rate: wait for the next token.
                outcomes[message.pk] = SendOutcome(
                    status=message.status, defer_until=timezone.now() + timedelta(seconds=wait)
                )
                continue
        to_claim.append(message)
    claimed = _claim(to_claim)
    claimed_ids = {message.pk for message in claimed}
    outcomes.update(
        {m.pk: SendOutcome(status="claimed-elsewhere") for m in to_claim if m.pk not in claimed_ids}
    )
    _send_claimed(tenant=tenant, messages=claimed, accounts=accounts, outcomes=outcomes)
    return outcomes


def _send_claimed(*, tenant: Tenant, messages: list[Message], accounts: dict, outcomes: dict):
    """Render the claimed messages, call their providers together, record the results."""
    sessions = whatsapp_sessions_open(
        tenant=tenant, recipients=[m.recipient for m in messages if m.channel == "whatsapp"]
    )
    callbacks: dict[str, str] = {}
    broken, calls = [], []
    for message in messages:
        try:
            rendered = _render(message)
        except TemplateRenderError as exc:
            broken.append((message, {"error": f"Template: {exc}", "failed_at": timezone.now()}))
            continue
        kind, provider, unavailable = accounts[message.channel]
        if kind not in callbacks:
            callbacks[kind] = status_callback_url(tenant=tenant, kind=kind)
        outgoing = None
        if unavailable is None:
            outgoing = OutgoingMessage(
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
                status_callback=callbacks[kind],
                session_open=message.recipient in sessions,
            )
        calls.append((message, rendered, kind, provider if outgoing else unavailable, outgoing))
    _transitions(broken, from_status=MessageStatus.SENDING, to_status=MessageStatus.FAILED)
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.FAILED) for m, _ in broken})

    results = _provider_calls([(provider, outgoing) for _m, _r, _k, provider, outgoing in calls])
    sent, failed, retry, refused, crash = [], [], [], [], None
    for (message, rendered, kind, *_call), (result, at) in zip(calls, results, strict=True):
        if isinstance(result, SendResult):
            sent.append(
                (
                    message,
                    {
                        "provider": kind,
                        "provider_message_id": result.provider_message_id,
                        "subject": rendered.subject,
                        "body": rendered.body,
                        "sent_at": at,
                        "error": "",
                    },
                )
            )
        elif isinstance(result, TransportError) and result.permanent:
            failed.append(
                (
                    message,
                    {
                        "error": str(result),
                        "failed_at": at,
                        "subject": rendered.subject,
                        "body": rendered.body,
                    },
                )
            )
            if result.bad_contact:
                refused.append((message, result))
        elif isinstance(result, TransportError):
            logger.warning("message %s: transient provider error, to retry: %s", message.pk, result)
            retry.append((message, {"error": str(result)}))
        else:
            crash = crash or result  # the message stays `sending`, for reconciliation
    _transitions(sent, from_status=MessageStatus.SENDING, to_status=MessageStatus.SENT)
    _transitions(failed, from_status=MessageStatus.SENDING, to_status=MessageStatus.FAILED)
    _transitions(retry, from_status=MessageStatus.SENDING, to_status=MessageStatus.QUEUED)
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.SENT) for m, _ in sent})
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.FAILED) for m, _ in failed})
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.QUEUED, retry=True) for m, _ in retry})
    for message, exc in refused:
        hooks.contact_refused.send(
            sender=Message, message=message, reason=str(exc), opt_out=exc.opt_out
        )
    if crash is not None:
        raise crash


_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def _send_pool() -> ThreadPoolExecutor:
    """This process's provider-call threads (made again after a fork). They keep their HTTP
    clients, so consecutive sends reuse connections; they never touch the database."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(
                max_workers=settings.MESSAGING_SEND_CONCURRENCY, thread_name_prefix="regua-send"
            )
            _pool_pid = os.getpid()
        return _pool


def _provider_call(call) -> tuple[SendResult | BaseException, datetime]:
    provider, outgoing = call
    if outgoing is None:
        return provider, timezone.now()  # the channel has no usable provider: its error
    try:
        return provider.send(outgoing), timezone.now()
    except BaseException as exc:  # handed back to the batch, which records or re-raises it
        return exc, timezone.now()


def _provider_calls(calls: list) -> list:
    """Each (provider, outgoing message)'s SendResult or exception, and when it came, in
    order; several calls are in flight at once."""
    if len(calls) <= 1:
        return [_provider_call(call) for call in calls]
    return list(_send_pool().map(_provider_call, calls))


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


def whatsapp_sessions_open(
    *, tenant: Tenant, recipients: list[str], now: datetime | None = None
) -> set[str]:
    """Which of these numbers wrote to the tenant on WhatsApp in the last 24 hours (one
    query): a free-text WhatsApp message to them is let through."""
    if not recipients:
        return set()
    since = (now or timezone.now()) - WHATSAPP_SESSION
    return set(
        InboundMessage.objects.filter(
            channel="whatsapp", sender__in=set(recipients), received_at__gte=since
        ).values_list("sender", flat=True)
    )


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
    """Whether the customer wrote to the tenant on WhatsApp in the last 24 hours."""
    return recipient in whatsapp_sessions_open(tenant=tenant, recipients=[recipient], now=now)


SEND_BATCH = 100


def messages_enqueue(*, tenant: Tenant, message_ids: list[int]) -> None:
    """Queue the sends, in batches of SEND_BATCH messages per task, once the surrounding
    transaction commits (a worker must find the rows)."""
    from messaging.tasks import send_messages

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
    from messaging.tasks import messages_fan_out

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

    from messaging import crypto
    from messaging.models import ProviderAccount

    rotated = 0
    with scopes_disabled(), transaction.atomic():
        for account in ProviderAccount.objects.select_for_update().exclude(
            credentials_encrypted=""
        ):
            account.credentials_encrypted = crypto.rotate(account.credentials_encrypted)
            account.save(update_fields=["credentials_encrypted"])
            rotated += 1
    return rotated
