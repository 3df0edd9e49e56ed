from django.utils.translation import gettext_lazy as _
from django_scopes import scope, scopes_disabled
from rest_framework import authentication, exceptions, permissions, throttling

from tenants.services import api_key_authenticate


class ApiKeyUser:
    """The principal behind an API key: authenticated, tied to one tenant, no Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key):
        self.api_key = api_key
        self.tenant = api_key.tenant

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`. Opens the key's tenant scope for the rest of the request
    (closed by `TenantScopedAPIMixin.dispatch`)."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _sep, raw = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        if not raw.strip():
            raise exceptions.AuthenticationFailed(_("API key missing after 'Api-Key'."))
        key = api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        request._tenant_scope = scope(tenant=key.tenant)
        request._tenant_scope.__enter__()
        return ApiKeyUser(key), key

    def authenticate_header(self, request):
        return self.keyword


class HasTenantApiKey(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, ApiKeyUser)


class TenantScopedAPIMixin:
    """Base for every tenant API view: querysets come from `tenant_queryset()`, which the
    scope filters by tenant; subclasses may not replace `get_queryset` and so cannot forget it."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must define tenant_queryset(), not get_queryset()")

    @property
    def tenant(self):
        return self.request.user.tenant

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            # The OpenAPI generator only needs the model, and runs outside any tenant scope.
            with scopes_disabled():
                return self.tenant_queryset().none()
        return self.tenant_queryset()

    def tenant_queryset(self):
        raise NotImplementedError

    def query_param(self, name: str) -> str | None:
        """A query parameter the view filters on. A NUL character, which no stored text holds
        and PostgreSQL refuses in a query, is a 400 on that parameter rather than a 500."""
        value = self.request.query_params.get(name)
        if value and "\x00" in value:
            raise exceptions.ValidationError({name: [_("Null characters are not allowed.")]})
        return value

    def dispatch(self, request, *args, **kwargs):
        # Closed here rather than when the response is finalized: DRF skips that when the view
        # raises an unexpected error, and a scope left open is closed whenever it is
        # garbage-collected, resetting the scope of whatever code runs at that moment.
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            ctx = getattr(self.request, "_tenant_scope", None)
            if ctx is not None:
                self.request._tenant_scope = None
                ctx.__exit__(None, None, None)


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """At most API_RATE requests per API key (default 600 a minute), counted in the cache
    (Redis when configured, so every web process shares the count). Requests without a key
    are left to authentication, which refuses them."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        api_key = getattr(user, "api_key", None)
        if api_key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.prefix}
