from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tenants.middleware import SESSION_TENANT_KEY
from tenants.selectors import user_memberships


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@login_required
@require_http_methods(["GET", "POST"])
def tenant_choose(request):
    """A user who belongs to several tenants picks the one to work in."""
    memberships = list(user_memberships(user=request.user))
    if request.method == "POST":
        chosen = next(
            (m for m in memberships if str(m.tenant_id) == request.POST.get("tenant")), None
        )
        if chosen is None:
            return HttpResponseBadRequest(_("Choose one of your companies."))
        request.session[SESSION_TENANT_KEY] = chosen.tenant_id
        messages.success(request, _("Now working in %(name)s.") % {"name": chosen.tenant.name})
        target = request.POST.get("next") or "dashboard"
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = "dashboard"
        return redirect(target)
    return render(
        request,
        "tenants/choose.html",
        {"memberships": memberships, "next": request.GET.get("next", "")},
    )


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
