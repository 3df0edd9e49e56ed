from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from tenants import idempotency


def exception_handler(exc, context):
    """DRF's handler, plus Django validation errors as 400 with their messages."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)


def not_found(request, exception):
    """`handler404`: a URL nothing answers (`/api/v1/invoices/1.5/`) is JSON under /api/, like
    every other API answer, and Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(exceptions.NotFound.default_detail)}, status=404)
    return page_not_found(request, exception)


ERROR = ResolvedComponent(
    name="Error",
    type=ResolvedComponent.SCHEMA,
    object="Error",
    schema={
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
)
VALIDATION_ERROR = ResolvedComponent(
    name="ValidationError",
    type=ResolvedComponent.SCHEMA,
    object="ValidationError",
    schema={
        "type": "object",
        "description": "Messages per field (nested for nested objects and lists); "
        "`non_field_errors` for the request as a whole.",
        "additionalProperties": {},
    },
)


PAGING = {"page", "page_size"}
WRITES = {"POST", "PUT", "PATCH"}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the errors every operation can answer with, so a client
    (or a contract test) knows them: 400 with per-field messages where the request carries
    input or writes (a write can also be refused for the object's state), 401 without a valid
    key, 404 for an unknown object or page, 415 for a body that is not JSON, 429 over the rate
    limit."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        params = operation.get("parameters", [])
        has_body = "requestBody" in operation
        # A bad page is a 404 and a bad page_size is ignored (DRF's pagination).
        has_query = any(p["in"] == "query" and p["name"] not in PAGING for p in params)
        errors = {}
        if has_body or has_query or self.method in WRITES:
            errors["400"] = ("Invalid input.", self.validation_error_schema())
        if operation.get("security"):
            errors["401"] = ("No valid API key.", self.error_ref())
        if any(p["in"] == "path" or p["name"] == "page" for p in params):
            errors["404"] = ("Not found (another tenant's object is not found either).", None)
        if has_body:
            errors["415"] = ("The body is not JSON.", None)
        if operation.get("security"):
            errors["429"] = ("Over the API key's rate limit; see Retry-After.", None)
        for code, (description, schema) in errors.items():
            operation["responses"].setdefault(
                code,
                {
                    "content": {"application/json": {"schema": schema or self.error_ref()}},
                    "description": description,
                },
            )
        operation["responses"] = dict(sorted(operation["responses"].items()))
        return operation

    def error_ref(self) -> dict:
        self.registry.register_on_missing(ERROR)
        return ERROR.ref

    def validation_error_schema(self) -> dict:
        self.registry.register_on_missing(VALIDATION_ERROR)
        return VALIDATION_ERROR.ref


IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": idempotency.HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": idempotency.MAX_KEY_LENGTH},
    "description": "A value unique to this operation (a UUID, say) that makes retrying the POST "
    f"safe. The first request runs and its answer is kept for {idempotency.KEEP_HOURS} hours: "
    "the same key with the same request (method, path and body) gets that answer again, with "
    "`Idempotent-Replayed: true`, and writes nothing. The same key with a different request is "
    "refused with 422; while the first request is still running, with 409 and Retry-After. A "
    "first request that never finished (its server stopped) frees its key after a few minutes: "
    "the next retry then runs. Keys belong to the API key that sends them. A 5xx or 429 answer "
    "is not kept, so its retry runs for real.",
}
IDEMPOTENCY_RESPONSES = {
    "409": "A request with this Idempotency-Key is still running; retry after Retry-After.",
    "422": "This Idempotency-Key was used for a different request; use a new key.",
}
REPLAYED_HEADER = {
    "description": "`true` when this is the kept answer to an earlier request with the same "
    "Idempotency-Key (nothing was written this time).",
    "schema": {"type": "string", "enum": ["true"]},
}


def idempotency_hook(result, generator, request, public, **kwargs):
    """drf-spectacular postprocessing hook: every POST under /api/ (where
    `tenants.idempotency` applies) documents the `Idempotency-Key` header, its 409 and 422, and
    the `Idempotent-Replayed` header of a replayed answer. A hook rather than part of
    `ApiAutoSchema`, so it sees every operation in its final shape (schema subclasses add
    responses after `ApiAutoSchema` is done)."""
    error_ref = None
    for path, methods in result.get("paths", {}).items():
        operation = methods.get("post")
        if operation is None or not path.startswith("/api/"):
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == idempotency.HEADER for p in parameters):
            parameters.append(dict(IDEMPOTENCY_PARAMETER))
        responses = operation.setdefault("responses", {})
        for code, response in responses.items():
            if code not in IDEMPOTENCY_RESPONSES:
                response.setdefault("headers", {})["Idempotent-Replayed"] = REPLAYED_HEADER
        for code, description in IDEMPOTENCY_RESPONSES.items():
            if error_ref is None:
                schemas = result.setdefault("components", {}).setdefault("schemas", {})
                schemas.setdefault(ERROR.name, ERROR.schema)
                error_ref = ERROR.ref
            responses.setdefault(
                code,
                {
                    "content": {"application/json": {"schema": error_ref}},
                    "description": description,
                },
            )
        operation["responses"] = dict(sorted(responses.items()))
    return result
