"""E-mail through SendGrid's v3 Mail Send API, with the `sendgrid` SDK.

Credentials: `api_key`. The message carries its Régua reference as a custom argument, so the
signed Event Webhook can be matched back to it; SendGrid's click tracking is turned off (links
go straight to the payment page with our own signed reference) and the one-click unsubscribe
headers are set. `SENDGRID_API_HOST` (settings) points the SDK at another host: a loopback fake
in tests and benchmarks."""

import json

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

from messaging.providers.base import OutgoingMessage, Provider, SendResult, TransportError


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
        except OSError as exc:  # timeouts, refused connections
            raise TransportError(f"SendGrid unreachable: {exc}", permanent=False) from exc
        provider_id = _header(response.headers, "X-Message-Id")
        if not provider_id:
            raise TransportError("SendGrid accepted the message without an id", permanent=False)
        return SendResult(provider_message_id=provider_id)


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
    return TransportError(
        f"SendGrid {status}: {detail or 'error'}", permanent=not transient, code=str(status)
    )
