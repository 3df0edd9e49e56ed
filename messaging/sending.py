"""Where a message leaves: a batch of one tenant's queued messages claimed, rendered and handed
to the providers, each at most once, and the outcome of each.

The claim (`transitions.messages_claim`) is what keeps a message from going twice; the
provider calls of a batch are in flight together; an error that proves the provider does not
have the message (refused connection, 429, 503) puts it back in the queue, a permanent one
fails it, and one after which the provider may have it (a read timeout, a reset after the
request was written) makes it `unknown`, for reconciliation (`messaging.upkeep`)."""

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from messaging import hooks
from messaging.email_html import text_to_html
from messaging.inbound import whatsapp_sessions_open
from messaging.models import Message, MessageStatus, ProviderKind
from messaging.providers import (
    OutgoingMessage,
    Provider,
    SendResult,
    TransportError,
    provider_account_for,
)
from messaging.ratelimit import send_wait
from messaging.templating import TemplateRenderError, template_render
from messaging.transitions import (
    message_transition,
    messages_claim,
    messages_keep_rendered,
    messages_transition,
)
from messaging.unsubscribe import unsubscribe_headers
from tenants.models import Tenant
from tenants.selectors import tenant_next_send_time

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendOutcome:
    status: str
    retry: bool = False
    defer_until: datetime | None = None
    # The provider's Retry-After (seconds) for a retry: the retry is not scheduled earlier.
    retry_after: float | None = None


def message_cancel(*, tenant: Tenant, message: Message, reason: str) -> bool:
    """Cancel a message that has not left yet. Returns whether this call cancelled it."""
    return message_transition(
        message,
        from_status=MessageStatus.QUEUED,
        to_status=MessageStatus.CANCELLED,
        error=reason,
        failed_at=timezone.now(),
    )


def message_fail(*, tenant: Tenant, message: Message, reason: str) -> bool:
    """End a queued message as failed (e.g. out of retries). Returns whether this call did."""
    return message_transition(
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
    queued→sending by a conditional UPDATE that also checks the domain's stop rule in SQL
    (`hooks.claim_condition`) — a second worker, a redelivered task or a re-run finds nothing
    to claim and calls no provider, and a stop committed before the claim cancels the message.
    The claim records the provider account used; the rendered texts are written before the
    calls, which are in flight together (MESSAGING_SEND_CONCURRENCY per process), and their
    results are recorded together, surviving a lost database connection (`_record`). A
    provider error proving the provider does not have the message puts it back to queued for a
    retry (with the provider's Retry-After); a permanent one fails it with the reason; one
    after which the provider may have it makes it `unknown`, for reconciliation. A crash after
    the claim leaves the message in `sending` for reconciliation, never for a blind resend
    (the exception is raised once the batch's other results are recorded).
    """
    outcomes = {message_id: SendOutcome(status="missing") for message_id in message_ids}
    queued = []
    current = timezone.now()
    for message in Message.objects.filter(pk__in=message_ids).select_related("template"):
        if message.status != MessageStatus.QUEUED:
            outcomes[message.pk] = SendOutcome(status=message.status)
        elif message.retry_not_before and message.retry_not_before > current:
            # A retry asked early (a redelivered or duplicate task): its own task or the due
            # tick sends it once its backoff is over; nothing to schedule here.
            outcomes[message.pk] = SendOutcome(status="not-due")
        else:
            queued.append(message)
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
    messages_transition(
        cancels, from_status=MessageStatus.QUEUED, to_status=MessageStatus.CANCELLED
    )
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.CANCELLED) for m, _ in cancels})

    accounts: dict[str, tuple[str, Provider | None, TransportError | None]] = {}
    account_ids: dict[str, int | None] = {}
    to_claim = []
    for message in sendable:
        if message.channel not in accounts:
            try:
                kind, provider, account = provider_account_for(
                    tenant=tenant, channel=message.channel
                )
                accounts[message.channel] = (kind, provider, None)
                account_ids[message.channel] = account.pk if account is not None else None
            except TransportError as exc:
                accounts[message.channel] = ("", None, exc)
                account_ids[message.channel] = None
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
    claimed = messages_claim(
        to_claim,
        tenant=tenant,
        accounts={
            m.pk: (
                accounts[m.channel][0],
                account_ids[m.channel],
                accounts[m.channel][1].account_key if accounts[m.channel][1] else "",
            )
            for m in to_claim
        },
    )
    claimed_ids = {message.pk for message in claimed}
    unclaimed = [m for m in to_claim if m.pk not in claimed_ids]
    outcomes.update({m.pk: SendOutcome(status="claimed-elsewhere") for m in unclaimed})
    if unclaimed:
        _stopped_at_claim(unclaimed, outcomes)
    _send_claimed(tenant=tenant, messages=claimed, accounts=accounts, outcomes=outcomes)
    return outcomes


def _stopped_at_claim(unclaimed: list[Message], outcomes: dict) -> None:
    """Messages the claim did not take although they were queued at the pre-check: another
    worker claimed them, the domain cancelled them meanwhile, or the domain's condition in the
    claim stopped them (a stop committed between the pre-check and the claim). The last are
    still queued: they are cancelled now with the domain's reason."""
    now_statuses = list(
        Message.objects.filter(pk__in=[m.pk for m in unclaimed])
        .exclude(status=MessageStatus.SENDING)
        .select_related("template")
    )
    still_queued = [m for m in now_statuses if m.status == MessageStatus.QUEUED]
    # Cancelled by the domain meanwhile (a payment's own cancellation); any other status is
    # another worker's claim.
    outcomes.update(
        {
            m.pk: SendOutcome(status=MessageStatus.CANCELLED)
            for m in now_statuses
            if m.status == MessageStatus.CANCELLED
        }
    )
    if not still_queued:
        return
    hooks.messages_prefetch(still_queued)
    cancels = []
    for message in still_queued:
        reason = hooks.message_cancel_reason(message)
        if reason:
            cancels.append((message, {"error": reason, "failed_at": timezone.now()}))
        else:
            logger.error(
                "message %s: the claim's condition stopped it but the send guard gives no "
                "reason; left queued",
                message.pk,
            )
    cancelled = messages_transition(
        cancels, from_status=MessageStatus.QUEUED, to_status=MessageStatus.CANCELLED
    )
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.CANCELLED) for m in cancelled})


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
                # The reference in the callback URL: Twilio's reports then name the message even
                # when its answer to the send never came.
                status_callback=(f"{callbacks[kind]}?ref={message.ref}" if callbacks[kind] else ""),
                session_open=message.recipient in sessions,
            )
        calls.append((message, rendered, kind, provider if outgoing else unavailable, outgoing))
    _record(broken, MessageStatus.FAILED)
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.FAILED) for m, _ in broken})
    messages_keep_rendered(
        [(message, rendered.subject, rendered.body) for message, rendered, *_ in calls]
    )

    results = _provider_calls([(provider, outgoing) for _m, _r, _k, provider, outgoing in calls])
    sent, failed, retry, unknown, refused, crash = [], [], [], [], [], None
    retry_after: dict[int, float | None] = {}
    for (message, rendered, kind, *_call), (result, at) in zip(calls, results, strict=True):
        kept = {"subject": rendered.subject, "body": rendered.body}
        if isinstance(result, SendResult):
            sent.append(
                (
                    message,
                    {
                        "provider": kind,
                        "provider_message_id": result.provider_message_id,
                        "sent_at": at,
                        "error": result.note,
                        **kept,
                    },
                )
            )
        elif isinstance(result, TransportError) and result.permanent:
            failed.append((message, {"error": str(result), "failed_at": at, **kept}))
            if result.bad_contact:
                refused.append((message, result))
        elif isinstance(result, TransportError) and result.ambiguous:
            # The request reached the provider and no answer came back: it may have the
            # message. Never retried blindly: reconciliation asks the provider.
            logger.warning("message %s: outcome unknown at the provider: %s", message.pk, result)
            unknown.append((message, {"error": f"Outcome unknown: {result}", **kept}))
        elif isinstance(result, TransportError):
            logger.warning(
                "message %s: transient provider error, will retry: %s", message.pk, result
            )
            # Not claimed again before the provider's Retry-After (the task sets the backoff).
            not_before = at + timedelta(seconds=result.retry_after or 0)
            retry.append((message, {"error": str(result), "retry_not_before": not_before}))
            retry_after[message.pk] = result.retry_after
        else:
            crash = crash or result  # the message stays `sending`, for reconciliation
    _record(sent, MessageStatus.SENT)
    _record(failed, MessageStatus.FAILED)
    _record(retry, MessageStatus.QUEUED)
    _record(unknown, MessageStatus.UNKNOWN)
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.SENT) for m, _ in sent})
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.FAILED) for m, _ in failed})
    outcomes.update({m.pk: SendOutcome(status=MessageStatus.UNKNOWN) for m, _ in unknown})
    outcomes.update(
        {
            m.pk: SendOutcome(
                status=MessageStatus.QUEUED, retry=True, retry_after=retry_after.get(m.pk)
            )
            for m, _ in retry
        }
    )
    for message, exc in refused:
        hooks.contact_refused.send(
            sender=Message, message=message, reason=str(exc), opt_out=exc.opt_out
        )
    if crash is not None:
        raise crash


# A provider call's result is written even if the database connection died meanwhile (a
# failover, a killed backend): the write is tried again on a new connection, this many times.
RECORD_ATTEMPTS = 4


def _record(rows: list[tuple[Message, dict]], to_status: str) -> list[Message]:
    """sending → `to_status` for the rows, surviving a database connection that died while the
    provider was being called: on OperationalError/InterfaceError the connection is closed and
    the write tried again (a transition moves a message once, so a write that did commit
    before the error is not repeated). A delivered message is never left failed for want of
    a connection."""
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            return messages_transition(rows, from_status=MessageStatus.SENDING, to_status=to_status)
        except (OperationalError, InterfaceError):
            if attempt == RECORD_ATTEMPTS or connection.in_atomic_block:
                raise
            logger.warning(
                "recording %s message(s) as %s: database connection lost, reconnecting",
                len(rows),
                to_status,
                exc_info=True,
            )
            connection.close()
            time.sleep(0.2 * attempt)
    return []


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
