"""Changing the key provider accounts' credentials are encrypted with."""

from django.db import transaction
from django_scopes import scopes_disabled

from messaging import crypto
from messaging.models import ProviderAccount


def provider_accounts_rotate_keys() -> int:
    """Re-encrypt every provider account's credentials with the first FIELD_ENCRYPTION_KEY.
    Put the new key first, keep the old ones after it, run this, then drop the old keys."""
    rotated = 0
    with scopes_disabled(), transaction.atomic():
        for account in ProviderAccount.objects.select_for_update().exclude(
            credentials_encrypted=""
        ):
            account.credentials_encrypted = crypto.rotate(account.credentials_encrypted)
            account.save(update_fields=["credentials_encrypted"])
            rotated += 1
    return rotated
