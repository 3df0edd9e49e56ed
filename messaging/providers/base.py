from dataclasses import dataclass, field


class TransportError(Exception):
    """A provider refused or failed a send. `permanent` ones are not retried (invalid number,
    unsubscribed, hard bounce); transient ones are (timeouts, 429, 5xx)."""

    def __init__(self, message: str, *, permanent: bool, code: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.code = code


@dataclass(frozen=True)
class OutgoingMessage:
    ref: str
    channel: str
    recipient: str
    subject: str
    body: str
    sender: str = ""
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class Provider:
    kind: str = ""

    def __init__(self, *, sender: str = "", credentials: dict | None = None):
        self.sender = sender
        self.credentials = credentials or {}

    def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError
