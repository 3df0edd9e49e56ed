"""Encryption at rest for provider credentials.

FIELD_ENCRYPTION_KEY holds one or more Fernet keys separated by commas: the first encrypts,
all decrypt. To rotate, put the new key first, run `manage.py rotate_credentials_key`, then drop
the old key. Without the variable (embedded mode) a key is derived from SECRET_KEY so
development works with no setup.
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsError(ValueError):
    pass


def _fernet() -> MultiFernet:
    raw = [k.strip() for k in (settings.FIELD_ENCRYPTION_KEY or "").split(",") if k.strip()]
    if not raw:
        digest = hashlib.sha256(f"regua-credentials:{settings.SECRET_KEY}".encode()).digest()
        raw = [base64.urlsafe_b64encode(digest).decode()]
    try:
        return MultiFernet([Fernet(k) for k in raw])
    except ValueError as exc:
        raise CredentialsError(
            "FIELD_ENCRYPTION_KEY must hold url-safe base64 Fernet keys"
        ) from exc


def encrypt_json(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsError("Credentials cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode() if token else token


SHOWN = 4  # the last characters a masked value shows
SHOWN_FROM = 12  # a shorter value shows none: four characters would give too much of it away


def mask(value: str) -> str:
    """Never show a secret back: its last four characters at most, so that an admin can tell
    which one is stored; nothing of a short one."""
    value = str(value or "")
    return "•" * 8 if len(value) < SHOWN_FROM else f"••••{value[-SHOWN:]}"
