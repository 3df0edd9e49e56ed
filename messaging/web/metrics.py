"""`/metrics`: the messages of every tenant by state, in Prometheus's text format (0.0.4), for
the operators' monitoring. Behind a bearer token (`METRICS_TOKEN`): without the setting the
route is a 404, with a missing or wrong token a 401. Counts only, never a tenant's name or a
recipient; one GROUP BY per scrape (`messaging.attention.message_state_counts`)."""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from messaging.attention import message_state_counts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# `StateCounts` field → the `state` label (docs/operations.md, "Monitoring").
STATES = (
    ("queued", "queued"),
    ("sending", "sending"),
    ("stuck", "stuck"),
    ("unknown", "unknown"),
    ("failed_24h", "failed"),
    ("undelivered_24h", "undelivered"),
)


def metrics_text(counts) -> str:
    lines = [
        "# HELP regua_messages Messages of every tenant by state (failed and undelivered: "
        "last 24 hours; stuck: sending past the upkeep's limit).",
        "# TYPE regua_messages gauge",
    ]
    lines += [
        f'regua_messages{{state="{label}"}} {getattr(counts, field)}' for field, label in STATES
    ]
    lines += [
        "# HELP regua_messages_unknown_oldest_seconds Age of the oldest message whose outcome "
        "at the provider is unknown (0 when none).",
        "# TYPE regua_messages_unknown_oldest_seconds gauge",
        f"regua_messages_unknown_oldest_seconds {counts.oldest_unknown_seconds}",
    ]
    return "\n".join(lines) + "\n"


def _authorized(request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _space, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request):
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    if not token:
        raise Http404
    if not _authorized(request, token):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    counts = message_state_counts(now=timezone.now())
    return HttpResponse(metrics_text(counts), content_type=CONTENT_TYPE)
