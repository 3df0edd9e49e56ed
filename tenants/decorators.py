"""View decorators shared by the apps' pages."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect


def tenant_required(min_role: str = "viewer"):
    """Login, a current tenant and at least `min_role` in it; checked in the view, so a client
    asking for an HTMX partial directly gets the same answer."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.membership is None:
                return redirect(f"/tenants/choose/?next={request.path}")
            if not request.membership.has_role(min_role):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        # The menu and the settings index read it (tenants/templatetags/access.py), so a link
        # is shown only to a role the view lets in: one rule, declared once, on the view.
        wrapper.tenant_min_role = min_role
        return wrapper

    return decorator
