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
from datetime import UTC, timedelta

from django.conf import settings
from django.utils import timezone
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from messaging.providers.base import (
    NOT_SENT,
    Lookup,
    OutgoingMessage,
    Provider,
    SendResult,
    TransportError,
    retry_after_seconds,
    transport_failure_kind,
)

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
# Messages per page of a Messages.list read (Twilio's maximum is 1,000); every page is read.
LIST_PAGE_SIZE = 100


class _HttpClient(TwilioHttpClient):
    """The SDK's HTTP client, with a keep-alive session, optionally sent to another base URL."""

    def __init__(self, *, base: str, timeout: float):
        super().__init__(pool_connections=True, timeout=timeout)
        self.base = base.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base:
            url = re.sub(r"^https://[^/]+", self.base, url)
        self.last_response = None
        response = super().request(method, url, *args, **kwargs)
        # The SDK's error keeps no headers: Retry-After is read from here (one client per
        # thread and account, so this is the answer to this thread's last call).
        self.last_response = response
        return response


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
        client = self._client()
        try:
            created = client.messages.create(**params)
        except TwilioRestException as exc:
            raise _transport_error(exc, _last_headers(client)) from exc
        except (OSError, ValueError) as exc:  # requests' errors, a body that is not JSON
            if transport_failure_kind(exc) == NOT_SENT:
                raise TransportError(f"Twilio unreachable: {exc}", permanent=False) from exc
            raise TransportError(
                f"Twilio did not answer after the request was sent: {exc}",
                permanent=False,
                ambiguous=True,
            ) from exc
        return SendResult(provider_message_id=created.sid)

    def lookup_many(
        self, messages: list[OutgoingMessage], *, known_ids: set[str] = frozenset()
    ) -> Lookup:
        """Twilio's own record: the account's messages to each recipient since the claim
        (Messages.list filtered by To and DateSent>, every page), matched to Régua's message by
        its reference — the body carries it in the payment link (`?m=<ref>:<signature>`) — or,
        for a body without a link, by the exact rendered body. Twilio's list has no field of
        ours (no status callback, no custom data), so the body is what matches. A message
        missing from a listing taken TWILIO_LISTING_DELAY_SECONDS or more after its claim is
        confirmed absent; earlier, Twilio may not list it yet, so it cannot tell."""
        result = Lookup()
        client = self._client()
        now = timezone.now()
        delay = timedelta(seconds=settings.TWILIO_LISTING_DELAY_SECONDS)
        by_recipient: dict[str, list[OutgoingMessage]] = {}
        for message in messages:
            by_recipient.setdefault(message.recipient, []).append(message)
        for recipient, group in by_recipient.items():
            claims = [m.claimed_at for m in group if m.claimed_at is not None]
            # A margin for the clocks' difference; DateSent is compared to the second.
            since = (min(claims) if claims else now - timedelta(days=1)) - timedelta(minutes=5)
            listed = client.messages.list(
                to=self._address(recipient),
                # The SDK writes the datetime's own fields followed by "Z": give it UTC.
                date_sent_after=since.astimezone(UTC),
                page_size=LIST_PAGE_SIZE,
            )
            taken: set[str] = set(known_ids)
            for message in group:
                sid = _match(message, listed, taken)
                if sid:
                    taken.add(sid)
                    result.found[message.ref] = sid
                elif message.claimed_at is not None and message.claimed_at + delay <= now:
                    result.absent.add(message.ref)
        return result


def _match(message: OutgoingMessage, listed, taken: set[str]) -> str:
    for record in listed:
        if record.sid in taken or (record.direction or "").startswith("inbound"):
            continue
        body = record.body or ""
        if message.ref in body or (message.body and body == message.body):
            return record.sid
    return ""


def _last_headers(client: Client) -> dict:
    response = getattr(client.http_client, "last_response", None)
    return dict(getattr(response, "headers", None) or {})


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


def _transport_error(exc: TwilioRestException, headers: dict | None = None) -> TransportError:
    """A refusal with Twilio's error document (a code) says Twilio did not take the message;
    a 5xx without one (a gateway's 502 or 504, a 500 with no body) may come after Twilio took
    it: ambiguous. 429 and 503 are refusals to retry, after Retry-After if given."""
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
    # The SDK gives the HTTP status as the code when the body is not Twilio's error document.
    refused = bool(exc.code) and exc.code != status
    ambiguous = status >= 500 and status != 503 and not refused
    detail = exc.msg or "error"
    retry_after = retry_after_seconds(
        next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    )
    return TransportError(
        f"Twilio {code or status}: {detail}",
        permanent=not transient,
        code=str(code or status),
        ambiguous=ambiguous,
        retry_after=retry_after if transient else None,
    )
