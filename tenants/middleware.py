from django_scopes import scope, scopes_disabled

from tenants.models import Membership

SESSION_TENANT_KEY = "tenant_id"


class TenantMiddleware:
    """Resolve the logged-in user's current tenant and open its scope for the whole request.

    Tenant-owned querysets refuse to run outside a scope, so a view that forgets the tenant
    fails loudly instead of leaking another tenant's rows. Requests without a tenant (login,
    tenant choice, the debtor's payment page, webhooks) open their own scope after resolving
    the tenant from the URL. The operators' Django admin runs with scopes disabled.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # An outer scope without a tenant: deny-by-default, and whatever an inner layer opens
        # (the API authentication) is closed when the request ends.
        with scope():
            return self._handle(request)

    def _handle(self, request):
        request.tenant = None
        request.membership = None
        user = getattr(request, "user", None)
        if request.path.startswith("/admin/"):
            if user is not None and user.is_authenticated and user.is_staff:
                with scopes_disabled():
                    return self.get_response(request)
            return self.get_response(request)
        if user is not None and user.is_authenticated:
            tenant_id = request.session.get(SESSION_TENANT_KEY)
            membership = None
            if tenant_id:
                membership = (
                    Membership.objects.select_related("tenant")
                    .filter(user=user, tenant_id=tenant_id)
                    .first()
                )
            if membership is None:
                memberships = list(
                    Membership.objects.select_related("tenant").filter(user=user)[:2]
                )
                if len(memberships) == 1:
                    membership = memberships[0]
                    request.session[SESSION_TENANT_KEY] = membership.tenant_id
            if membership is not None:
                request.tenant = membership.tenant
                request.membership = membership
                with scope(tenant=membership.tenant):
                    return self.get_response(request)
        return self.get_response(request)
