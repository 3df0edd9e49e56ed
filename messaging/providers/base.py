import hashlib
import json
from dataclasses import dataclass, field


class TransportError(Exception):
    """A provider refused or failed a send. `permanent` ones are not retried (invalid number,
    unsubscribed, hard bounce); transient ones are (timeouts, 429, 5xx)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str = "",
        bad_contact: bool = False,
        opt_out: bool = False,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        # The address itself is unusable on this channel (invalid number, hard bounce), or the
        # recipient opted out at the provider (`opt_out`, e.g. replied STOP): the contact is
        # flagged so no later message tries it again.
        self.bad_contact = bad_contact
        self.opt_out = opt_out


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


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


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
        """The provider's id for `message` if the provider has a record of it (matched by
        `message.ref`), else None. None also means "cannot tell": the default, for providers
        with no way to look a message up. Reconciliation calls this instead of `send` for a
        message whose worker died mid-send, so it must never send anything."""
        return None

    def lookup_many(self, messages: list[OutgoingMessage]) -> dict[str, str]:
        """`lookup` for several messages at once: ref → provider id for the ones found.
        Providers whose records are cheaper to read in bulk override this."""
        found = {}
        for message in messages:
            provider_id = self.lookup(message)
            if provider_id:
                found[message.ref] = provider_id
        return found
