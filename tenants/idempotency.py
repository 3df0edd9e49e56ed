"""`Idempotency-Key` on the API's POSTs.

An integrator that retries a POST after a timeout cannot tell whether the first one went
through. With `Idempotency-Key: <unique value>` the first request runs and its answer is kept
for 24 hours; the same key with the same request gets that answer again (with
`Idempotent-Replayed: true`) and writes nothing. The same key with a different request is
refused with 422, and a key whose first request is still running gets 409. Keys are per API
key: the owner is a hash of the Authorization header. An answer of 5xx is not kept, so the
request can be retried for real; nor is a 429 (over the rate limit), whose retry after
Retry-After must run rather than get the 429 again.

The OpenAPI schema declares all this on every POST
(`collections_app.api.errors.idempotency_hook`)."""

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEEP_HOURS = 24
KEEP = timedelta(hours=KEEP_HOURS)
MAX_KEY_LENGTH = 255


def _digest(*parts: bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part)
        sha.update(b"\0")
    return sha.hexdigest()


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER, "")
        if request.method != "POST" or not key or not request.path.startswith("/api/"):
            return self.get_response(request)
        if len(key) > MAX_KEY_LENGTH:
            return JsonResponse(
                {"detail": _("Idempotency-Key: at most 255 characters.")}, status=400
            )
        owner = _digest(request.headers.get("Authorization", "").encode())
        fingerprint = _digest(request.method.encode(), request.path.encode(), request.body)
        IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    owner=owner, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            return self._replay(owner, key, fingerprint)
        response = self.get_response(request)
        kept = response.status_code < 500 and response.status_code != 429
        if not kept or getattr(response, "streaming", False):
            record.delete()
            return response
        record.status = response.status_code
        record.content_type = response.get("Content-Type", "")
        record.body = bytes(response.content)
        record.save(update_fields=["status", "content_type", "body"])
        return response

    @staticmethod
    def _replay(owner: str, key: str, fingerprint: str):
        record = IdempotentRequest.objects.filter(owner=owner, key=key).first()
        if record is None:  # expired between the insert and this read: let the client retry
            return JsonResponse({"detail": _("Please retry.")}, status=409)
        if record.fingerprint != fingerprint:
            return JsonResponse(
                {
                    "detail": _(
                        "This Idempotency-Key was used for a different request; use a new key."
                    )
                },
                status=422,
            )
        if record.status is None:
            return JsonResponse(
                {"detail": _("A request with this Idempotency-Key is still running.")},
                status=409,
            )
        response = HttpResponse(
            bytes(record.body), status=record.status, content_type=record.content_type
        )
        response["Idempotent-Replayed"] = "true"
        return response
