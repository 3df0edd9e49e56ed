from messaging.providers.base import OutgoingMessage, Provider, SendResult, TransportError
from messaging.providers.registry import provider_for

__all__ = ["OutgoingMessage", "Provider", "SendResult", "TransportError", "provider_for"]
