"""The product's 404 page in debug mode too.

With DEBUG on (the embedded mode, `make run`) Django answers a 404 with its technical page,
which lists every URL pattern of the site to whoever asks for a wrong address. This middleware
answers with the project's `handler404` instead (the product's page; JSON under /api/), both
for an address no pattern matches and for a view that raises Http404. With DEBUG off it does
nothing: Django already calls `handler404`. A 500 stays Django's traceback page in debug mode,
for the developer running it; 403 never used the technical page.
"""

from django.conf import settings
from django.http import Http404
from django.urls import get_resolver


def _not_found(request, exception):
    return get_resolver().resolve_error_handler(404)(request, exception)


class DebugNotFoundPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # No resolver match: no URL pattern answered, and the 404 is Django's technical list.
        if (
            settings.DEBUG
            and response.status_code == 404
            and getattr(request, "resolver_match", None) is None
        ):
            return _not_found(request, Http404())
        return response

    def process_exception(self, request, exception):
        if settings.DEBUG and isinstance(exception, Http404):
            return _not_found(request, exception)
        return None
