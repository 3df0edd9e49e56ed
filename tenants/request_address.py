"""Who is asking: the visitor's address, as the login throttle and the payment page count it."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The visitor's address. Behind `TRUSTED_PROXY_COUNT` proxies it is the X-Forwarded-For
    entry the outermost of them added (entries further left come from the visitor and can be
    forged); with no proxy configured the header is ignored for the same reason."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        forwarded = [entry.strip() for entry in forwarded if entry.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"
