import hashlib
import http.client
import json
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime

# What a transport failure says about the request: `NOT_SENT`, the provider cannot have it (the
# connection, DNS or TLS failed before the request was written, or the provider refused it);
# `AMBIGUOUS`, the request was written and the answer never came (a read timeout, a reset or a
# closed connection after writing, a 5xx from a gateway): the provider may have the message.
NOT_SENT = "not_sent"
AMBIGUOUS = "ambiguous"


class TransportError(Exception):
    """A provider refused or failed a send. `permanent` ones are not retried (invalid number,
    unsubscribed, hard bounce); transient ones are (the provider surely does not have it: a
    refused connection, a 429, a 503). An `ambiguous` one is neither: the request may have
    reached the provider, so the message is never retried blindly (it goes to `unknown` and
    is reconciled). `retry_after` is the provider's Retry-After, in seconds, if it gave one."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str = "",
        bad_contact: bool = False,
        opt_out: bool = False,
        ambiguous: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        # The address itself is unusable on this channel (invalid number, hard bounce), or the
        # recipient opted out at the provider (`opt_out`, e.g. replied STOP): the contact is
        # flagged so no later message tries it again.
        self.bad_contact = bad_contact
        self.opt_out = opt_out
        self.ambiguous = ambiguous and not permanent
        self.retry_after = retry_after


def _chain(exc: BaseException):
    """`exc` and what it wraps: causes, contexts, and the errors requests/urllib3/urllib keep
    in `args` and `reason`."""
    seen, todo = set(), [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen or not isinstance(current, BaseException):
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))


def transport_failure_kind(exc: BaseException) -> str:
    """`NOT_SENT` or `AMBIGUOUS` for an exception a provider's HTTP client raised.

    Surely not sent: the connection was never made (refused, connect timeout, DNS), or TLS
    failed during the handshake — all before the request was written. requests says so with
    ConnectTimeout and with a MaxRetryError whose reason is a NewConnectionError; urllib (the
    SendGrid SDK) wraps every error raised while connecting and writing the request in a
    URLError. Anything else (ReadTimeout, ProtocolError, RemoteDisconnected,
    ConnectionResetError after the request was written, an error of unknown kind) is
    ambiguous: the provider may have accepted the message."""
    import requests
    import urllib3.exceptions

    not_sent_types = (
        requests.exceptions.ConnectTimeout,
        requests.exceptions.SSLError,
        requests.exceptions.ProxyError,
        requests.exceptions.InvalidURL,
        urllib3.exceptions.NewConnectionError,
        urllib3.exceptions.ConnectTimeoutError,
        urllib3.exceptions.NameResolutionError,
        ConnectionRefusedError,
        socket.gaierror,
        ssl.SSLError,
    )
    ambiguous_types = (
        requests.exceptions.ReadTimeout,
        urllib3.exceptions.ReadTimeoutError,
        urllib3.exceptions.ProtocolError,
        http.client.HTTPException,
    )
    from urllib.error import URLError

    chain = list(_chain(exc))
    # The outermost classification that says "after writing" wins over what it wraps.
    for item in chain:
        if isinstance(item, ambiguous_types):
            return AMBIGUOUS
        if isinstance(item, not_sent_types):
            return NOT_SENT
        if isinstance(item, URLError) and not isinstance(item, ambiguous_types):
            # urllib: raised while connecting or writing the request (do_open), never after.
            return NOT_SENT
    return AMBIGUOUS


def retry_after_seconds(value) -> float | None:
    """A Retry-After header's delay in seconds (a number of seconds or an HTTP date), or None."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    from django.utils import timezone

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


@dataclass(frozen=True)
class OutgoingMessage:
    ref: str
    channel: str
    recipient: str
    subject: str
    body: str
    sender: str = ""
    headers: dict = field(default_factory=dict)
    html_body: str = ""
    # Where the provider reports delivery status (Twilio's status callback).
    status_callback: str = ""
    # WhatsApp: an approved Content template and its numbered variables, and whether the
    # customer's 24-hour session is open (free text allowed).
    content_sid: str = ""
    content_variables: dict = field(default_factory=dict)
    session_open: bool = False
    # Lookups only: when the message was claimed (the provider cannot have it from before).
    claimed_at: datetime | None = None


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    # Set when the provider's acceptance is not confirmed but the message is taken as sent (an
    # SMTP server that timed out after the whole message was written): kept as the message's
    # note.
    note: str = ""


@dataclass
class Lookup:
    """What a provider said about messages it was asked about: `found` (ref → the provider's
    id) and `absent` (refs the provider confirms it never received). A ref in neither: the
    provider cannot tell (no lookup, a failed lookup, or too early to say)."""

    found: dict[str, str] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)


class Provider:
    kind: str = ""

    def __init__(self, *, sender: str = "", credentials: dict | None = None):
        self.sender = sender
        self.credentials = credentials or {}

    @property
    def account_key(self) -> str:
        """Who the provider counts sends against: the same credentials, the same account."""
        digest = hashlib.sha256(json.dumps(self.credentials, sort_keys=True).encode())
        return f"{self.kind}:{digest.hexdigest()[:16]}"

    def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError

    def lookup(self, message: OutgoingMessage) -> str | None:
        """The provider's id for `message` if the provider has a record of it, else None."""
        return self.lookup_many([message]).found.get(message.ref)

    def lookup_many(
        self, messages: list[OutgoingMessage], *, known_ids: set[str] = frozenset()
    ) -> Lookup:
        """Ask the provider about messages whose send was interrupted or whose outcome is
        unknown. `known_ids` are provider ids other messages already hold: a record with one
        of them is never matched to these. Must never send anything. The default cannot tell
        about any of them."""
        return Lookup()
