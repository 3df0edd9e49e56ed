from .base import OutgoingMessage, Provider, SendResult, TransportError
from .registry import provider_for

__all__ = ["OutgoingMessage", "Provider", "SendResult", "TransportError", "provider_for"]
