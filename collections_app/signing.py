"""The HMAC signature Régua's webhooks use both ways: payment notifications it receives, and
the events it sends to the tenant's endpoints."""

import hashlib
import hmac


def payment_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Regua-Signature` value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"
