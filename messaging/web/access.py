"""Who may do what on the settings pages: members read, admins (and owners) write."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.views.decorators.http import require_http_methods

from tenants.decorators import tenant_required
from tenants.models import Role

ADMIN = Role.ADMIN


def admin_writes(view):
    """Members read (GET); only admins write (POST). Checked in the view, whatever the page
    shows."""

    @wraps(view)
    @require_http_methods(["GET", "POST"])
    @tenant_required()
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and not request.membership.has_role(ADMIN):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
