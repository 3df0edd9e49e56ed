from messaging.providers.base import (
    Lookup,
    OutgoingMessage,
    Provider,
    SendResult,
    TransportError,
)
from messaging.providers.registry import provider_account_for, provider_for, provider_of_send

__all__ = [
    "Lookup",
    "OutgoingMessage",
    "Provider",
    "SendResult",
    "TransportError",
    "provider_account_for",
    "provider_for",
    "provider_of_send",
]
