"""Writing a tenant's own provider accounts: the one path the settings page and the API share,
so both check the account the same way, keep or replace its credentials the same way and refuse
a second active account on a channel the same way."""

from django.db import IntegrityError, transaction

from messaging.config import PROVIDER_CONFLICT, provider_account_errors
from messaging.field_errors import FieldErrors
from messaging.models import ProviderAccount
from tenants.models import Tenant

# What a tenant edits of an account besides its credentials, in the order the API and the
# editor show them.
ACCOUNT_FIELDS = ("channel", "provider", "sender", "active")


class ProviderAccountError(FieldErrors):
    """An account that cannot be saved, with the messages per field."""


def provider_account_save(
    *,
    tenant: Tenant,
    account: ProviderAccount | None = None,
    credentials: dict | None = None,
    **fields,
) -> ProviderAccount:
    """Create an account (`account=None`) or change the fields given of one, in one
    transaction. `credentials` replace the stored ones whole; without them an account keeps
    its own (a new one has none). The channel, the provider and the credentials must pass
    `provider_account_errors` (a provider that carries the channel, its required credentials,
    each well formed, a server the outbound policy accepts), a field not given counting with its
    stored value; changing the server an account's secrets go to (SMTP's host, port or
    security) requires its secrets again (an edit page never keeps them then:
    `credentials_kept`); a channel has at most one active account. Credentials are encrypted
    at rest by the model. Each field's own format (a known channel and provider, the lengths)
    is the caller's form or serializer's. Raises
    ProviderAccountError with the messages per field, writing nothing;
    ProviderAccount.DoesNotExist for another tenant's account."""
    unknown = set(fields) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    if account is not None and account.tenant_id != tenant.pk:
        raise ProviderAccount.DoesNotExist
    if credentials is None and account is not None:
        checked_credentials = account.credentials
    else:
        checked_credentials = credentials or {}
    errors = provider_account_errors(
        channel=fields.get("channel", getattr(account, "channel", "")),
        provider=fields.get("provider", getattr(account, "provider", "")),
        credentials=checked_credentials,
        stored=account.credentials
        if account is not None and account.pk and credentials is not None
        else None,
    )
    if errors:
        raise ProviderAccountError(errors)
    if account is None:
        account = ProviderAccount(tenant=tenant)
        credentials = credentials or {}
    for name, value in fields.items():
        setattr(account, name, value)
    if credentials is not None:
        account.credentials = credentials
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        raise ProviderAccountError({"active": [str(PROVIDER_CONFLICT)]}) from exc
    return account
