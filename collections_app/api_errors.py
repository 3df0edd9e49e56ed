from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


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
