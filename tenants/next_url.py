"""Where a form sends the user back to: the posted `next`, only if it stays on this site."""

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def next_url(request: HttpRequest, default: str) -> str:
    """The POSTed `next` when it is a path or URL of this host (an attacker's link cannot turn
    the form into a redirect elsewhere), else `default` (a URL name or path)."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
