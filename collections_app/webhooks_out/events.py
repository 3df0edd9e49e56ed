"""Outbound webhooks: the tenant's URLs hear about invoices going overdue, messages delivered or
failed, payments, promises and tasks.

Each event becomes one delivery per subscribed endpoint, in the same transaction as the write
that caused it; the sends are queued once it commits. A delivery is a JSON POST signed like
the payment webhook Régua receives: `X-Regua-Signature: sha256=<HMAC-SHA256 of
"<X-Regua-Timestamp>.<body>" with the endpoint's secret>`. A 2xx answer delivers it; anything
else is retried with exponential backoff (1 minute doubling, 8 attempts over about two
hours), then the delivery is marked failed. `dedupe_key` names the event's subject, so the same
event never reaches an endpoint twice, whatever re-runs happen. URLs go through the outbound
policy (`messaging.outbound`): a host that resolves to a private, loopback or link-local address
is refused unless WEBHOOKS_ALLOW_PRIVATE is set, and a delivery connects to the address it
checked (keeping the name for TLS and the Host header); redirects are not followed.

The settings page (`views_settings`) and the API (`api_webhooks`) manage endpoints and
deliveries through the same checks and operations here: `url_check`, `webhook_secret_rotate`,
`webhook_redeliver` and `webhook_ping`."""

import json
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled
from requests.adapters import HTTPAdapter

from collections_app.enqueue import webhook_deliveries_send_later
from collections_app.models import (
    DeliveryStatus,
    Invoice,
    InvoiceStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_webhook_secret,
)
from collections_app.signing import payment_signature
from messaging.outbound import UnsafeAddress, outbound_addresses, outbound_check

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 60
TIMEOUT_SECONDS = 10
# The event of a test delivery an admin asks for (`webhook_ping`): sent to the endpoint
# whatever it subscribed to, never emitted by anything else.
PING_EVENT = "ping"


class UnsafeURL(UnsafeAddress):
    """A webhook URL Régua will not call, with the reason."""


class WebhookError(ValueError):
    """An operation on an endpoint or delivery that its state does not allow, with the reason."""


def _url_parts(url: str) -> tuple[SplitResult, int]:
    """The URL's parts and its port; UnsafeURL if it is not http(s) with a host and a port
    in range."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL(_("Use an http(s) URL with a host name."))
    try:
        port = parts.port
    except ValueError as exc:  # out of range: URL validators let ports up to 99999 through
        raise UnsafeURL(_("Use a port from 1 to 65535.")) from exc
    return parts, port or (443 if parts.scheme == "https" else 80)


def url_check(url: str) -> None:
    """Refuse URLs that are not http(s), or whose host resolves to an address inside a private
    network (the outbound policy: the workers' own network must not be reachable through a
    tenant's webhook)."""
    parts, port = _url_parts(url)
    try:
        outbound_check(parts.hostname, port)
    except UnsafeAddress as exc:
        raise UnsafeURL(str(exc)) from exc


class PinnedHostAdapter(HTTPAdapter):
    """An adapter for a URL whose host is an address already checked: TLS still sends `hostname`
    (SNI) and verifies the certificate against it (urllib3's `server_hostname` and
    `assert_hostname`), the way requests-toolbelt's HostHeaderSSLAdapter does."""

    def __init__(self, hostname: str, **kwargs):
        self.hostname = hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **pool_kwargs):
        pool_kwargs.update(server_hostname=self.hostname, assert_hostname=self.hostname)
        super().init_poolmanager(*args, **pool_kwargs)


def _post_pinned(url: str, *, body: bytes, headers: dict) -> requests.Response:
    """POST to `url` through the outbound policy: the host is resolved once, every address is
    checked, and the request goes to a checked address, never to the name again (a second
    lookup could answer a private address: DNS rebinding), with the name kept in the Host
    header and for TLS. Redirects are not followed. UnsafeURL if the policy refuses."""
    parts, port = _url_parts(url)
    try:
        address = outbound_addresses(parts.hostname, port)[0]
    except UnsafeAddress as exc:
        raise UnsafeURL(str(exc)) from exc
    host = f"[{address}]" if ":" in address else address
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc, host_header = (
        (f"{host}:{parts.port}", f"{name}:{parts.port}") if parts.port else (host, name)
    )
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    with requests.Session() as session:
        session.mount("https://", PinnedHostAdapter(parts.hostname))
        return session.post(
            pinned,
            data=body,
            headers={**headers, "Host": host_header},
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )


def webhook_emit(*, tenant_id: int, event: str, dedupe_key: str, data: dict) -> int:
    """One event: a delivery to each active endpoint of the tenant subscribed to it."""
    return webhook_emit_many(tenant_id=tenant_id, event=event, items=[(dedupe_key, data)])


def webhook_emit_many(*, tenant_id: int, event: str, items: Iterable[tuple[str, dict]]) -> int:
    """Several events of one kind: one query for the endpoints, one insert for the deliveries
    (those already made for the same subject are skipped). Returns how many were created."""
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(tenant_id=tenant_id, active=True)
        if event in e.events
    ]
    items = list(items)
    if not endpoints or not items:
        return 0
    now = timezone.now()
    rows = [
        WebhookDelivery(
            tenant_id=tenant_id,
            endpoint=endpoint,
            event=event,
            dedupe_key=dedupe_key[:120],
            payload=_payload(event, now, data),
            next_attempt_at=now,
        )
        for endpoint in endpoints
        for dedupe_key, data in items
    ]
    created = WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    keys = {(e.pk, event, k[:120]) for e in endpoints for k, _d in items}
    ids = list(
        WebhookDelivery.objects.filter(
            endpoint__in=endpoints,
            event=event,
            dedupe_key__in={k for _e, _v, k in keys},
            status=DeliveryStatus.PENDING,
            attempts=0,
            created_at__gte=now,
        ).values_list("id", flat=True)
    )
    webhook_deliveries_send_later(delivery_ids=ids)
    return len(created) if ids else 0


def _payload(event: str, now, data: dict) -> dict:
    """The body a receiver gets, as JSON types (dates and decimals as strings)."""
    body = {"event": event, "created_at": now, "data": data}
    return json.loads(json.dumps(body, cls=DjangoJSONEncoder))


# A claimed delivery is not due again for this long, so a second task cannot send it while
# the first is still sending (webhook_deliver's time limit is well under it); the upkeep
# queues it again after that if its task was lost.
CLAIM_SECONDS = 5 * 60
LOST_BATCH = 5000


def webhook_deliver_due(*, delivery_id: int) -> tuple[str, float | None]:
    """Send one delivery now if it is due: claimed by a conditional update, so a duplicate task
    finds nothing to do. Returns the delivery's status ("not due" when it was not claimed) and
    the seconds until its next try (None when settled or not claimed)."""
    now = timezone.now()
    with scopes_disabled():
        claimed = WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        if not claimed:
            return "not due", None
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
        wait = webhook_attempt(delivery=delivery)
    return delivery.status, wait


def webhook_deliveries_lost() -> list[int]:
    """The pending deliveries whose task was lost: due more than CLAIM_SECONDS ago (at most
    LOST_BATCH of them; the next upkeep takes the rest)."""
    with scopes_disabled():
        return list(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING,
                next_attempt_at__lt=timezone.now() - timedelta(seconds=CLAIM_SECONDS),
            ).values_list("id", flat=True)[:LOST_BATCH]
        )


def webhook_attempt(*, delivery: WebhookDelivery) -> float | None:
    """Send one delivery now. Returns the seconds until the next try, or None when it is
    settled (delivered, or failed for good)."""
    endpoint = delivery.endpoint
    body = json.dumps({"id": delivery.pk, **delivery.payload}, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    delivery.attempts += 1
    code, error = None, ""
    try:
        response = _post_pinned(
            endpoint.url,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Regua-Webhooks/1",
                "X-Regua-Event": delivery.event,
                "X-Regua-Delivery": str(delivery.pk),
                "X-Regua-Timestamp": stamp,
                "X-Regua-Signature": payment_signature(endpoint.secret, stamp, body),
            },
        )
        code = response.status_code
        if 200 <= code < 300:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
        else:
            error = f"HTTP {code}"
    except UnsafeURL as exc:
        error, delivery.attempts = str(exc), MAX_ATTEMPTS  # no retry can fix the URL
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    delivery.last_status_code, delivery.last_error = code, error[:300]
    wait = None
    if delivery.status != DeliveryStatus.DELIVERED:
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
        else:
            wait = FIRST_RETRY_SECONDS * 2 ** (delivery.attempts - 1)
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=wait) if wait else None
    delivery.save(
        update_fields=[
            "attempts",
            "status",
            "delivered_at",
            "last_status_code",
            "last_error",
            "next_attempt_at",
        ]
    )
    return wait


def webhook_redeliver(*, delivery: WebhookDelivery) -> None:
    """An admin sends a delivery again (e.g. after fixing their endpoint), with a fresh round
    of attempts. Only a settled one (delivered or failed): a pending one is being sent or
    waits for its next try, and a second send could cross the first. WebhookError if so."""
    resent = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(status=DeliveryStatus.PENDING)
        .update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now())
    )
    if not resent:
        raise WebhookError(_("This delivery is still pending: it is retried on its own."))
    webhook_deliveries_send_later(delivery_ids=[delivery.pk])


def webhook_secret_rotate(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret for the endpoint, in force for the next attempt; returns it."""
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test delivery (`ping`) to the endpoint, active or not, signed, logged and retried like
    any other, so an admin can check their receiver and its signature check."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        tenant_id=endpoint.tenant_id,
        endpoint=endpoint,
        event=PING_EVENT,
        dedupe_key=f"ping:{uuid.uuid4().hex}",
        payload=_payload(PING_EVENT, now, {"endpoint_id": endpoint.pk, "url": endpoint.url}),
        next_attempt_at=now,
    )
    webhook_deliveries_send_later(delivery_ids=[delivery.pk])
    return delivery


def invoice_data(invoice) -> dict:
    """An invoice as webhook payloads show it."""
    return {
        "id": invoice.pk,
        "external_id": invoice.external_id,
        "number": invoice.number,
        "amount": str(invoice.amount),
        "amount_due": str(invoice.amount_due),
        "due_date": invoice.effective_due_date.isoformat(),
        "status": invoice.status,
        "customer_id": invoice.customer_id,
    }


def overdue_emit(*, tenants, today) -> int:
    """`invoice.overdue` for the open invoices that fell due in the last week (each once per
    endpoint, whatever re-runs happen). Runs at the start of the daily evaluation."""
    subscribed = {
        e.tenant_id
        for e in WebhookEndpoint.objects.filter(tenant__in=tenants, active=True)
        if WebhookEvent.INVOICE_OVERDUE in e.events
    }
    emitted = 0
    for tenant_id in subscribed:
        invoices = Invoice.objects.filter(
            tenant_id=tenant_id,
            status=InvoiceStatus.OPEN,
            effective_due_date__gte=today - timedelta(days=7),
            effective_due_date__lt=today,
        )
        emitted += webhook_emit_many(
            tenant_id=tenant_id,
            event=WebhookEvent.INVOICE_OVERDUE,
            items=((f"invoice:{inv.pk}", invoice_data(inv)) for inv in invoices),
        )
    return emitted
