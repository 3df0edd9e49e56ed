"""Twilio SMS and WhatsApp, through the `twilio` SDK.

Credentials (per tenant, encrypted at rest; or the platform's from the environment):
`account_sid` and `auth_token`. The sender is a phone number in E.164 or a Messaging Service
SID (`MG…`). WhatsApp messages that start a conversation must use an approved Content template
(`content_sid` plus numbered variables); free text is only accepted by WhatsApp inside the
24-hour session the customer opened by writing to the business.

`TWILIO_API_BASE` (settings) sends the SDK's requests to another base URL than
https://api.twilio.com: a loopback fake in tests and benchmarks. Clients are kept per thread
and account, so consecutive sends reuse their HTTPS connection."""

import json
import re
import threading

from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from messaging.providers.base import OutgoingMessage, Provider, SendResult, TransportError

# Twilio error codes that no retry can fix: the fault is in the number, the consent or the
# content, so the message fails at once with the reason and the contact is flagged.
PERMANENT_CODES = {
    21211: "invalid 'To' phone number",
    21214: "'To' number cannot be reached",
    21408: "permission to send to this region is not enabled",
    21610: "the recipient replied STOP (unsubscribed)",
    21612: "the 'To' number cannot receive this message",
    21614: "'To' number is not a valid mobile number",
    63016: "outside the WhatsApp 24-hour window: an approved template is required",
    63024: "invalid WhatsApp recipient",
}
# Codes that mean the contact itself is unusable on this channel; 21610 is the recipient's own
# opt-out (they replied STOP to this sender).
CONTACT_CODES = {21211, 21214, 21610, 21612, 21614, 63024}
OPT_OUT_CODES = {21610}

_clients = threading.local()


class _HttpClient(TwilioHttpClient):
    """The SDK's HTTP client, with a keep-alive session, optionally sent to another base URL."""

    def __init__(self, *, base: str, timeout: float):
        super().__init__(pool_connections=True, timeout=timeout)
        self.base = base.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base:
            url = re.sub(r"^https://[^/]+", self.base, url)
        return super().request(method, url, *args, **kwargs)


def twilio_client(*, account_sid: str, auth_token: str) -> Client:
    cache = getattr(_clients, "by_account", None)
    if cache is None:
        cache = _clients.by_account = {}
    base, timeout = settings.TWILIO_API_BASE, settings.PROVIDER_TIMEOUT_SECONDS
    key = (account_sid, auth_token, base, timeout)
    if key not in cache:
        http = _HttpClient(base=base, timeout=timeout)
        cache[key] = Client(account_sid, auth_token, http_client=http)
    return cache[key]


class TwilioSMSProvider(Provider):
    kind = "twilio_sms"
    address_prefix = ""

    def _client(self) -> Client:
        sid, token = self.credentials.get("account_sid"), self.credentials.get("auth_token")
        if not sid or not token:
            raise TransportError(
                "Twilio account SID and auth token are not configured", permanent=True
            )
        return twilio_client(account_sid=sid, auth_token=token)

    def _address(self, number: str) -> str:
        return f"{self.address_prefix}{number}" if self.address_prefix else number

    def _params(self, message: OutgoingMessage) -> dict:
        params = {"to": self._address(message.recipient), "body": message.body}
        if message.status_callback:
            params["status_callback"] = message.status_callback
        return params

    def send(self, message: OutgoingMessage) -> SendResult:
        params = self._params(message)
        if self.sender.startswith("MG"):
            params["messaging_service_sid"] = self.sender
        elif self.sender:
            params["from_"] = self._address(self.sender)
        else:
            raise TransportError("No Twilio sender (number or messaging service)", permanent=True)
        try:
            created = self._client().messages.create(**params)
        except TwilioRestException as exc:
            raise _transport_error(exc) from exc
        except OSError as exc:  # timeouts, refused connections (requests' errors included)
            raise TransportError(f"Twilio unreachable: {exc}", permanent=False) from exc
        return SendResult(provider_message_id=created.sid)


class TwilioWhatsAppProvider(TwilioSMSProvider):
    kind = "twilio_whatsapp"
    address_prefix = "whatsapp:"

    def _params(self, message: OutgoingMessage) -> dict:
        params = super()._params(message)
        if message.content_sid:
            # An approved template: WhatsApp renders it from the variables, not from `body`.
            del params["body"]
            params["content_sid"] = message.content_sid
            params["content_variables"] = json.dumps(message.content_variables or {})
        elif not message.session_open:
            raise TransportError(
                "WhatsApp needs an approved template (Content SID) to start a conversation; "
                "free text is only allowed within 24 hours of the customer's last message",
                permanent=True,
                code="63016",
            )
        return params


def _transport_error(exc: TwilioRestException) -> TransportError:
    code = exc.code or 0
    if code in PERMANENT_CODES:
        return TransportError(
            f"Twilio {code}: {PERMANENT_CODES[code]}",
            permanent=True,
            code=str(code),
            bad_contact=code in CONTACT_CODES,
            opt_out=code in OPT_OUT_CODES,
        )
    status = exc.status or 0
    transient = status == 429 or status >= 500
    detail = exc.msg or "error"
    return TransportError(
        f"Twilio {code or status}: {detail}", permanent=not transient, code=str(code or status)
    )
