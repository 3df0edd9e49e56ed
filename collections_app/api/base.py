"""REST API v1 (DESIGN "Interfaces"). Every view derives from TenantScopedAPIMixin: the API key
opens its tenant's scope, querysets are tenant-filtered, another tenant's object is a 404."""

from rest_framework import viewsets

from tenants.api_auth import TenantScopedAPIMixin


# No docstring: drf-spectacular would show an inherited one as every operation's description.
class TenantViewSet(TenantScopedAPIMixin, viewsets.GenericViewSet):
    pass
