"""Where a message leaves: a batch of one tenant's queued messages claimed, rendered and handed
to the providers, each at most once, and the outcome of each.

The claim (`transitions.messages_claim`) is what keeps a message from going twice; the
provider calls of a batch are in flight together; a transient provider error puts the
message back in the queue, a permanent one fails it."""

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from messaging import hooks
from messaging.email_html import text_to_html
from messaging.inbound import whatsapp_sessions_open
from messaging.models import Message, MessageStatus, ProviderKind
from messaging.providers import OutgoingMessage, Provider, SendResult, TransportError, provider_for
from messaging.ratelimit import send_wait
from messaging.templating import TemplateRenderError, template_render
from messaging.transitions import message_transition, messages_claim, messages_transition
from messaging.unsubscribe import unsubscribe_headers
from tenants.models import Tenant
from tenants.selectors import tenant_next_send_time

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendOutcome:
    status: str
    retry: bool = False
    defer_until: datetime | None = None


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
    messages_transition(
        cancels, from_status=MessageStatus.QUEUED, to_status=MessageStatus.CANCELLED
    )
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
    claimed = messages_claim(to_claim)
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
    messages_transition(broken, from_status=MessageStatus.SENDING, to_status=MessageStatus.FAILED)
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
    messages_transition(sent, from_status=MessageStatus.SENDING, to_status=MessageStatus.SENT)
    messages_transition(failed, from_status=MessageStatus.SENDING, to_status=MessageStatus.FAILED)
    messages_transition(retry, from_status=MessageStatus.SENDING, to_status=MessageStatus.QUEUED)
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
