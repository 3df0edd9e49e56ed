"""A person's own password: accepting an invitation (choosing the first password from the
e-mailed link), changing it when logged in, and resetting it by e-mail. Django's views, with the
product's layout, pt-BR texts and the password validators (AUTH_PASSWORD_VALIDATORS) through
Django's SetPasswordForm and PasswordChangeForm.

None of these call `authenticate()`, so the login throttle (django-axes) is left as it is: a
reset does not lift a lockout, and the login page keeps counting failures."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import get_object_or_404
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _

from tenants.account_mail import LINK_DAYS, AccountPasswordResetForm, invite_token_generator
from tenants.middleware import SESSION_TENANT_KEY
from tenants.models import Membership, Tenant

_PLAIN_LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


class InviteAcceptView(auth_views.PasswordResetConfirmView):
    """The invitation's link: choose a password, then you are logged in, in the company that
    invited you. An expired, used or forged link shows a page saying what to do instead."""

    template_name = "registration/invite_accept.html"
    token_generator = invite_token_generator
    post_reset_login = True
    post_reset_login_backend = _PLAIN_LOGIN_BACKEND

    def dispatch(self, *args, **kwargs):
        self.tenant = get_object_or_404(Tenant, slug=kwargs["tenant"])
        return super().dispatch(*args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(tenant=self.tenant, days=LINK_DAYS, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        membership = (
            Membership.objects.filter(user=self.user, tenant=self.tenant)
            .select_related("tenant")
            .first()
        )
        if membership is not None:
            self.request.session[SESSION_TENANT_KEY] = membership.tenant_id
            messages.success(
                self.request,
                _("Password set. Welcome to the team of %(name)s.") % {"name": self.tenant.name},
            )
        return response

    def get_success_url(self):
        return reverse("dashboard")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    """The same answer (the "check your e-mail" page) whether or not the address has an
    account."""

    form_class = AccountPasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    @property
    def extra_email_context(self):
        # Links point at the configured address, never at the request's Host header.
        return {"base_url": settings.PUBLIC_BASE_URL, "days": LINK_DAYS}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"
    extra_context = {"days": LINK_DAYS}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
