"""Writing a tenant's webhook endpoints: the one path the settings page and the API share, so
both check the URL and the events the same way."""

import ipaddress
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from collections_app.models import WebhookEndpoint, WebhookEvent
from messaging.outbound import address_is_public, private_allowed
from tenants.models import Tenant

EDITABLE_FIELDS = ("url", "events", "active", "description")


class EndpointError(ValueError):
    """An endpoint that cannot be saved: `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def webhook_events_clean(events) -> list[str]:
    """The events, each once in the order given; EndpointError if none or one is unknown."""
    chosen = list(dict.fromkeys(events or ()))
    if not chosen:
        raise EndpointError({"events": _("Choose at least one event.")})
    unknown = [event for event in chosen if event not in WebhookEvent.values]
    if unknown:
        raise EndpointError({"events": _("Unknown event: %(event)s") % {"event": unknown[0]}})
    return chosen


def endpoint_url_check(url: str) -> None:
    """The check at save time, without resolving the host: its name need not resolve yet (a
    receiver is often set up before its DNS), so the full outbound policy runs at each delivery
    (`events._post_pinned`), which fails with a clear error when the name does not resolve or
    points to a private address. Here: an http(s) URL with a host and a port in range, a name
    IDNA can encode, and a host written as an address (or `localhost`) must be public.
    EndpointError otherwise."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise EndpointError({"url": _("Use an http(s) URL with a host name.")})
    try:
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError as exc:
        raise EndpointError({"url": _("Use a port from 1 to 65535.")}) from exc
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        address = None
        try:
            host.encode("idna")
        except UnicodeError as exc:
            raise EndpointError({"url": _("The host name is not valid.")}) from exc
    if private_allowed():
        return
    local_name = host == "localhost" or host.endswith(".localhost")
    if local_name or (address is not None and not address_is_public(address)):
        raise EndpointError(
            {"url": _("%(host)s points to a private or local address.") % {"host": host}}
        )


def webhook_endpoint_save(
    *, tenant: Tenant, endpoint: WebhookEndpoint | None = None, **fields
) -> WebhookEndpoint:
    """Create an endpoint (`endpoint=None`) or change the fields given of one. The URL must
    pass `endpoint_url_check` (http(s), not a private, loopback or link-local address; the name
    is resolved at delivery, not here) and the events be known. Raises EndpointError, leaving
    the endpoint unchanged."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    if "url" in fields:
        endpoint_url_check(fields["url"])
    if "events" in fields or endpoint is None:
        fields["events"] = webhook_events_clean(fields.get("events"))
    if endpoint is None:
        if "url" not in fields:
            raise EndpointError({"url": _("This field is required.")})
        return WebhookEndpoint.objects.create(tenant=tenant, **fields)
    if endpoint.tenant_id != tenant.pk:
        raise WebhookEndpoint.DoesNotExist
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=list(fields))
    return endpoint


def webhook_endpoint_delete(*, tenant: Tenant, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint and its delivery log."""
    if endpoint.tenant_id != tenant.pk:
        raise WebhookEndpoint.DoesNotExist
    endpoint.delete()
