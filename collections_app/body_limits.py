"""Request bodies capped before they are read: `RequestBodyLimitMiddleware`.

Django reads an upload whole (to memory or a temporary file) before a view can look at its
size, so a view's own check (the 5 MB proof of payment) comes after the work. This middleware
runs first: a request whose Content-Length passes its route's limit is answered 413 without
reading a byte; a body streamed without a Content-Length (chunked) is read at most up to the
limit, and a request that goes on past it is answered 413 too.

The limits are per route, each a little above what the route's view accepts (a multipart form
carries headers and its other fields beside the file), so the view still gives its own clearer
message for a file just over its size. The proxy in front (nginx `client_max_body_size`) should
refuse bodies above the largest limit before they reach the application: docs/operations.md."""

import re
from tempfile import SpooledTemporaryFile

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse
from django.utils.translation import gettext as _

from collections_app.imports.jobs import MAX_BYTES as IMPORT_MAX_BYTES

MIB = 1024 * 1024
CHUNK = 64 * 1024
FORM_MARGIN = 256 * 1024  # a multipart form's headers and other fields beside its file

# (path pattern, the largest file the route's view accepts); the first match wins.
UPLOAD_ROUTES = [
    (re.compile(r"^/p/[^/]+/paid$"), lambda: settings.PAYMENT_PROOF_MAX_BYTES),
    (re.compile(r"^/imports/$"), lambda: IMPORT_MAX_BYTES),
    (re.compile(r"^/bank/$"), lambda: 20 * MIB),  # as collections_app/web/bank.py accepts
]


def body_limit(path: str) -> int:
    """The most bytes a request body to `path` may have."""
    for pattern, file_max in UPLOAD_ROUTES:
        if pattern.match(path):
            return file_max() + FORM_MARGIN
    # Everything else is a form or JSON: Django's own limit for them, with the same margin.
    return (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) + FORM_MARGIN


def _too_large(limit: int) -> HttpResponse:
    message = _("The request is too large (at most %(mb)s MB).") % {
        "mb": f"{limit / MIB:.1f}".replace(".", ",")
    }
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


def _spooled(stream, limit: int):
    """A body streamed without a Content-Length read into a spooled file, at most `limit`
    bytes (in memory up to 1 MiB, then on disk): (the file, its length), or None when the
    stream goes on past the limit."""
    spool = SpooledTemporaryFile(max_size=MIB)  # noqa: SIM115 — the request keeps it open
    taken = 0
    while chunk := stream.read(min(CHUNK, limit + 1 - taken)):
        taken += len(chunk)
        if taken > limit:
            spool.close()
            return None
        spool.write(chunk)
    spool.seek(0)
    return spool, taken


class RequestBodyLimitMiddleware:
    """First in MIDDLEWARE: nothing before it reads the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = body_limit(request.path_info)
        length = request.META.get("CONTENT_LENGTH") or ""
        if length:
            try:
                declared = int(length)
            except ValueError:
                return HttpResponse(
                    _("Invalid Content-Length."), status=400, content_type="text/plain"
                )
            if declared > limit:
                return _too_large(limit)
        elif "HTTP_TRANSFER_ENCODING" in request.META and "wsgi.input" in request.META:
            # No length announced (chunked): Django would read none of it. It is read here,
            # no further than the limit, and handed on with its length.
            spooled = _spooled(request.META["wsgi.input"], limit)
            if spooled is None:
                return _too_large(limit)
            spool, taken = spooled
            request.META["CONTENT_LENGTH"] = str(taken)
            request._stream = LimitedStream(spool, taken)
        return self.get_response(request)
