"""E-mail through SendGrid's v3 Mail Send API, with the `sendgrid` SDK.

Credentials: `api_key`. The message carries its Régua reference as a custom argument, so the
signed Event Webhook can be matched back to it; SendGrid's click tracking is turned off (links
go straight to the payment page with our own signed reference) and the one-click unsubscribe
headers are set. `SENDGRID_API_HOST` (settings) points the SDK at another host: a loopback fake
in tests and benchmarks."""

import http.client
import json
from urllib.error import URLError

from django.conf import settings
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    ClickTracking,
    Content,
    CustomArg,
    Email,
    Header,
    Mail,
    OpenTracking,
    To,
    TrackingSettings,
)

from messaging.providers.base import (
    Lookup,
    OutgoingMessage,
    Provider,
    SendResult,
    TransportError,
    retry_after_seconds,
)


class SendGridProvider(Provider):
    kind = "sendgrid"

    def send(self, message: OutgoingMessage) -> SendResult:
        api_key = self.credentials.get("api_key")
        if not api_key:
            raise TransportError("SendGrid API key is not configured", permanent=True)
        mail = Mail(
            from_email=Email(self.sender or settings.DEFAULT_FROM_EMAIL),
            to_emails=To(message.recipient),
            subject=message.subject,
        )
        mail.add_content(Content("text/plain", message.body))
        if message.html_body:
            mail.add_content(Content("text/html", message.html_body))
        mail.add_custom_arg(CustomArg("regua_ref", message.ref))
        for name, value in message.headers.items():
            mail.add_header(Header(name, value))
        mail.tracking_settings = TrackingSettings(
            click_tracking=ClickTracking(enable=False, enable_text=False),
            open_tracking=OpenTracking(enable=True),
        )
        client = SendGridAPIClient(api_key=api_key, host=settings.SENDGRID_API_HOST)
        client.client.timeout = settings.PROVIDER_TIMEOUT_SECONDS
        try:
            response = client.send(mail)
        except HTTPError as exc:
            raise _transport_error(exc) from exc
        except URLError as exc:
            # urllib raises URLError only while connecting and writing the request (refused,
            # DNS, connect timeout, TLS): SendGrid cannot have the message.
            raise TransportError(f"SendGrid unreachable: {exc.reason}", permanent=False) from exc
        except (OSError, http.client.HTTPException) as exc:
            # Raised while waiting for the answer (a read timeout, a reset, a closed
            # connection): the request was written and SendGrid may have accepted it.
            raise TransportError(
                f"SendGrid did not answer after the request was sent: {exc!r}",
                permanent=False,
                ambiguous=True,
            ) from exc
        provider_id = _header(response.headers, "X-Message-Id")
        if not provider_id:
            # Accepted (2xx) all the same: sending it again would send it twice.
            return SendResult(
                provider_message_id="", note="SendGrid accepted the message without an id"
            )
        return SendResult(provider_message_id=provider_id)

    def lookup_many(
        self, messages: list[OutgoingMessage], *, known_ids: set[str] = frozenset()
    ) -> Lookup:
        """SendGrid has no per-message lookup in its Mail Send API: what it knows of a message
        comes as signed Event Webhook events carrying the message's `regua_ref` custom
        argument, which mark an unknown message found as they arrive
        (`messaging.webhooks.sendgrid_events`). Their silence proves nothing: SendGrid retries
        an event batch the webhook did not take for up to 24 hours, so an e-mail it accepted
        while the webhook was unreachable (or its events late) is silent for as long — sending
        it again then would send it twice. So this lookup never answers: the message stays
        `unknown` until an event settles it, and past the upkeep's escalation a person checks
        (a late event still settles it)."""
        return Lookup()


def _header(headers, name: str) -> str:
    if headers is None:
        return ""
    value = headers.get(name) if hasattr(headers, "get") else None
    return value or ""


def _transport_error(exc: HTTPError) -> TransportError:
    status = getattr(exc, "status_code", 0) or 0
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
    try:
        detail = "; ".join(e.get("message", "") for e in json.loads(body).get("errors", []))
    except (TypeError, ValueError, AttributeError):
        detail = str(body or "")[:200]
    transient = status == 429 or status >= 500
    # SendGrid's refusals carry its `errors` document; a 5xx without one (a gateway's) may come
    # after SendGrid took the message. 503 is a refusal to retry.
    refused = bool(detail) and detail != str(body or "")[:200]
    headers = getattr(exc, "headers", None)
    retry_after = retry_after_seconds(headers.get("Retry-After") if headers else None)
    return TransportError(
        f"SendGrid {status}: {detail or 'error'}",
        permanent=not transient,
        code=str(status),
        ambiguous=status >= 500 and status != 503 and not refused,
        retry_after=retry_after if transient else None,
    )
