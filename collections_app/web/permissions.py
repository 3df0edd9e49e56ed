"""Access rules of the configuration pages beyond `tenant_required`."""

from functools import wraps

from django.core.exceptions import PermissionDenied


def writes_need_admin(view):
    """GET reads with the tenant_required role; any other method needs admin."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "GET" and not request.membership.has_role("admin"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
