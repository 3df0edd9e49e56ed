"""The tenant's own pages: login and logout, choosing a company, the team (users and roles)
and the API keys. Admins see the team and manage keys; only owners change the team."""

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from tenants.decorators import tenant_required
from tenants.middleware import SESSION_TENANT_KEY
from tenants.models import ApiKey, Membership, Role
from tenants.next_url import next_url
from tenants.selectors import user_memberships
from tenants.services import (
    MemberError,
    api_key_create,
    api_key_revoke,
    member_add,
    member_remove,
    member_role_change,
)


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
        return redirect(next_url(request, "dashboard"))
    return render(
        request,
        "tenants/choose.html",
        {"memberships": memberships, "next": request.GET.get("next", "")},
    )


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# --- The team --------------------------------------------------------------------------------


class MemberForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail"))
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices, initial=Role.AGENT)


@require_http_methods(["GET", "POST"])
@tenant_required("admin")
def team(request):
    """The tenant's users and roles. Admins see them; only owners add, change or remove."""
    form = MemberForm()
    new_password = None
    if request.method == "POST":
        if not request.membership.has_role("owner"):
            raise PermissionDenied
        form = MemberForm(request.POST)
        if form.is_valid():
            email = form.cleaned_data["email"].lower()
            try:
                _membership, created, new_password = member_add(
                    tenant=request.tenant, email=email, role=form.cleaned_data["role"]
                )
            except MemberError as exc:
                messages.error(request, str(exc))
                return redirect("settings_team")
            if created:
                messages.success(request, _("%(email)s added.") % {"email": email})
            else:
                messages.error(request, _("%(email)s is already in the team.") % {"email": email})
            if new_password is None:
                return redirect("settings_team")
            form = MemberForm()
    members = Membership.objects.filter(tenant=request.tenant).select_related("user")
    return render(
        request,
        "tenants/settings/team.html",
        {
            "form": form,
            "members": members.order_by("user__email"),
            "roles": Role.choices,
            "can_manage": request.membership.has_role("owner"),
            "new_password": new_password,
        },
    )


@require_POST
@tenant_required("owner")
def member_change(request, pk: int):
    """Change a member's role, or remove them (`role=remove`). The last owner stays."""
    membership = get_object_or_404(
        Membership.objects.select_related("user"), pk=pk, tenant=request.tenant
    )
    role = request.POST.get("role", "")
    try:
        if role == "remove":
            member_remove(tenant=request.tenant, membership=membership)
            done = _("%(email)s removed.") % {"email": membership.user.email}
        else:
            member_role_change(tenant=request.tenant, membership=membership, role=role)
            done = _("Role changed.")
    except MemberError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("settings_team")


# --- API keys ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@tenant_required("admin")
def api_keys(request):
    raw = None
    if request.method == "POST":
        name = (request.POST.get("name") or "").strip()[:100] or "default"
        _key, raw = api_key_create(tenant=request.tenant, name=name)
    keys = ApiKey.objects.filter(tenant=request.tenant).order_by("-created_at")
    return render(request, "tenants/settings/api_keys.html", {"keys": keys, "raw": raw})


@require_POST
@tenant_required("admin")
def api_key_delete(request, pk: int):
    key = get_object_or_404(ApiKey, pk=pk, tenant=request.tenant)
    api_key_revoke(tenant=request.tenant, key=key)
    messages.success(request, _("Key revoked: it stops working at once."))
    return redirect("settings_api_keys")
