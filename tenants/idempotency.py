"""`Idempotency-Key` on the API's POSTs.

An integrator that retries a POST after a timeout cannot tell whether the first one went
through. With `Idempotency-Key: <unique value>` the first request runs and its answer is kept
for 24 hours; the same key with the same request gets that answer again (with
`Idempotent-Replayed: true`) and writes nothing. The same key with a different request is
refused with 422, and a key whose first request is still running gets 409 (with Retry-After).
A request that never finished (its process was killed mid-request) does not block its key for
the 24 hours: once it has been running for longer than `IDEMPOTENCY_RUNNING_LEASE_SECONDS`
(longer than any API request takes), the next request with the same key and body takes the key
over and runs, one winner among racing retries (`_take_over`). Keys are per API
key, and only a request made with a valid (unrevoked) API key is kept or replayed: the key is
checked before anything is stored, so a request without one writes nothing (the API refuses it
with 401), and a revoked key replays nothing. An answer of 5xx is not kept, so the request can
be retried for real; nor is a 429 (over the rate limit), whose retry after Retry-After must
run rather than get the 429 again. The answers hold personal data: the erasure of a customer
drops those of its tenant that mention them (`idempotent_answers_drop`).

The OpenAPI schema declares all this on every POST
(`collections_app.api.errors.idempotency_hook`)."""

import hashlib
import logging
import math
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.api_auth import ApiKeyAuthentication
from tenants.models import ApiKey, IdempotentRequest, Tenant
from tenants.services import api_key_authenticate

logger = logging.getLogger(__name__)

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


def _request_api_key(request) -> ApiKey | None:
    """The valid API key the request is made with, as the API's authentication reads it."""
    keyword, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    if keyword.lower() != ApiKeyAuthentication.keyword.lower() or not raw.strip():
        return None
    return api_key_authenticate(raw)


def idempotent_answers_drop(*, tenant: Tenant, mentions: Callable[[str], bool]) -> int:
    """Delete the tenant's kept answers whose body `mentions` says holds personal data (the
    erasure of a customer); their keys then run as new requests. Returns how many went."""
    doomed = [
        pk
        for pk, body in IdempotentRequest.objects.filter(api_key__tenant=tenant)
        .values_list("pk", "body")
        .iterator()
        if mentions(bytes(body).decode("utf-8", "replace"))
    ]
    IdempotentRequest.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _lease() -> timedelta:
    return timedelta(seconds=settings.IDEMPOTENCY_RUNNING_LEASE_SECONDS)


def _take_over(*, api_key: ApiKey, key: str, fingerprint: str) -> IdempotentRequest | None:
    """The key's record, for this request to run again, when it was left running longer than
    the lease by a request that died (same body only); None otherwise (the caller replays,
    refuses or answers 409). Racing retries each try one conditional UPDATE on the instant
    they read: the first moves it, the others match nothing and get the 409."""
    now = timezone.now()
    record = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
    if (
        record is None
        or record.status is not None
        or record.fingerprint != fingerprint
        or record.created_at > now - _lease()
    ):
        return None
    won = IdempotentRequest.objects.filter(
        pk=record.pk, status__isnull=True, created_at=record.created_at
    ).update(created_at=now)
    if not won:
        return None
    logger.warning("idempotency key %r taken over after its request stopped running", key)
    record.created_at = now
    return record


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
        api_key = _request_api_key(request)
        if api_key is None:  # refused by the API's authentication: nothing to keep or replay
            return self.get_response(request)
        fingerprint = _digest(request.method.encode(), request.path.encode(), request.body)
        IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    api_key=api_key, key=key, fingerprint=fingerprint, created_at=timezone.now()
                )
        except IntegrityError:
            record = _take_over(api_key=api_key, key=key, fingerprint=fingerprint)
            if record is None:
                return self._replay(api_key, key, fingerprint)
        response = self.get_response(request)
        # Only while the record is still this request's: a request so slow that a retry took
        # its key over leaves the answer to that retry.
        mine = IdempotentRequest.objects.filter(
            pk=record.pk, created_at=record.created_at, status__isnull=True
        )
        kept = response.status_code < 500 and response.status_code != 429
        if not kept or getattr(response, "streaming", False):
            mine.delete()
            return response
        if not mine.update(
            status=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=bytes(response.content),
        ):
            logger.warning("idempotency key %r was taken over before its answer was kept", key)
        return response

    @staticmethod
    def _replay(api_key: ApiKey, key: str, fingerprint: str):
        record = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
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
            busy = JsonResponse(
                {"detail": _("A request with this Idempotency-Key is still running.")},
                status=409,
            )
            left = record.created_at + _lease() - timezone.now()
            busy["Retry-After"] = str(max(1, math.ceil(left.total_seconds())))
            return busy
        response = HttpResponse(
            bytes(record.body), status=record.status, content_type=record.content_type
        )
        response["Idempotent-Replayed"] = "true"
        return response
