"""The tenant's own pages: login and logout, choosing a company, the team (users and roles)
and the API keys. Admins see the team, invite people and manage keys; only owners change roles
and remove members. A person's own password pages live in tenants/accounts.py."""

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
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
    member_invite,
    member_invite_pending,
    member_invite_resend,
    member_remove,
    member_role_change,
)
from tenants.templatetags.account_text import email_wrap


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

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        if not membership.has_role(Role.OWNER):
            # An admin invites up to their own role; only an owner makes another owner.
            self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]


def _invite_message(request, *, email: str, mailed: bool, existing: bool) -> None:
    # The address may wrap after its "@" on a phone; the texts are ours, the address escaped.
    email = email_wrap(email)
    if not mailed:
        messages.error(
            request,
            mark_safe(
                _("%(email)s was added, but the e-mail could not be sent. Try “Resend invitation”.")
                % {"email": email}
            ),
        )
    elif existing:
        messages.success(
            request,
            mark_safe(
                _("%(email)s already has a Régua account: added to the team and told by e-mail.")
                % {"email": email}
            ),
        )
    else:
        messages.success(
            request,
            mark_safe(
                _("Invitation sent to %(email)s. The link lets them choose their own password.")
                % {"email": email}
            ),
        )


@require_http_methods(["GET", "POST"])
@tenant_required("admin")
def team(request):
    """The tenant's users and roles. Admins see them and invite people (up to admin); only
    owners change roles, remove members and invite owners. Nobody's password is ever shown:
    a new member chooses theirs from the invitation's link."""
    form = MemberForm(membership=request.membership)
    if request.method == "POST":
        form = MemberForm(request.POST, membership=request.membership)
        if form.is_valid():
            email = form.cleaned_data["email"].lower()
            try:
                result = member_invite(
                    tenant=request.tenant,
                    email=email,
                    role=form.cleaned_data["role"],
                    invited_by=request.membership,
                )
            except MemberError as exc:
                messages.error(request, str(exc))
                return redirect("settings_team")
            if result.created:
                _invite_message(
                    request,
                    email=email,
                    mailed=result.mailed,
                    existing=not member_invite_pending(membership=result.membership),
                )
            else:
                messages.error(request, _("%(email)s is already in the team.") % {"email": email})
            return redirect("settings_team")
    members = list(
        Membership.objects.filter(tenant=request.tenant)
        .select_related("user")
        .order_by("user__email")
    )
    for m in members:
        m.invite_pending = member_invite_pending(membership=m)
    return render(
        request,
        "tenants/settings/team.html",
        {
            "form": form,
            "members": members,
            "roles": Role.choices,
            "can_manage": request.membership.has_role("owner"),
        },
    )


@require_POST
@tenant_required("admin")
def member_resend_invite(request, pk: int):
    """E-mail a pending member a fresh invitation."""
    membership = get_object_or_404(
        Membership.objects.select_related("user", "tenant"), pk=pk, tenant=request.tenant
    )
    try:
        mailed = member_invite_resend(
            tenant=request.tenant, membership=membership, invited_by=request.membership
        )
    except MemberError as exc:
        messages.error(request, str(exc))
    else:
        _invite_message(request, email=membership.user.email, mailed=mailed, existing=False)
    return redirect("settings_team")


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
