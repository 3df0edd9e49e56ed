"""Writing a tenant's webhook endpoints: the one path the settings page and the API share, so
both check the URL and the events the same way."""

from django.utils.translation import gettext as _

from collections_app.models import WebhookEndpoint, WebhookEvent
from collections_app.webhooks_out.events import UnsafeURL, url_check
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


def webhook_endpoint_save(
    *, tenant: Tenant, endpoint: WebhookEndpoint | None = None, **fields
) -> WebhookEndpoint:
    """Create an endpoint (`endpoint=None`) or change the fields given of one. The URL must
    pass `url_check` (http(s), not a private, loopback or link-local host) and the events be
    known. Raises EndpointError, leaving the endpoint unchanged."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    if "url" in fields:
        try:
            url_check(fields["url"])
        except UnsafeURL as exc:
            raise EndpointError({"url": str(exc)}) from exc
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
