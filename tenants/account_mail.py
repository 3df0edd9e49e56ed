"""The e-mails a person gets about their own account: the invitation to a company's team (a
signed link to choose a password), the notice that an existing account was added to another
company, and the forms behind the password reset.

They go through Django's e-mail backend (EMAIL_BACKEND: the console in embedded mode, SMTP when
EMAIL_HOST is set), not through `messaging`: these are Régua's own messages to its users, not a
tenant's messages to its debtors, and `tenants` knows nothing of the other apps."""

import logging
import smtplib

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tenants.models import Membership, User

log = logging.getLogger("tenants.account_mail")

# An invitation's link lasts as long as a password reset's (PASSWORD_RESET_TIMEOUT, Django's
# default three days) and, like it, works once: choosing the password changes what it signs.
LINK_DAYS = settings.PASSWORD_RESET_TIMEOUT // 86400


class InviteTokenGenerator(PasswordResetTokenGenerator):
    """A password-reset token under its own salt, so an invitation's link is not a reset link
    nor the other way round."""

    key_salt = "tenants.account_mail.InviteTokenGenerator"


invite_token_generator = InviteTokenGenerator()


def invite_link(*, membership: Membership) -> str:
    user = membership.user
    path = reverse(
        "invite_accept",
        kwargs={
            "tenant": membership.tenant.slug,
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invite_token_generator.make_token(user),
        },
    )
    return settings.PUBLIC_BASE_URL + path


def _send(*, template: str, to: str, context: dict, locale: str) -> bool:
    """Render `tenants/email/<template>_subject.txt` and `_body.txt` in `locale` and send them.
    False (and a logged error) when the backend refuses: the page then says so."""
    with translation.override(locale):
        subject = " ".join(
            render_to_string(f"tenants/email/{template}_subject.txt", context).split()
        )
        body = render_to_string(f"tenants/email/{template}_body.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except (smtplib.SMTPException, OSError):
        log.exception("account e-mail %s to %s not sent", template, to)
        return False
    return True


def member_welcome_send(*, membership: Membership, invited_by: User | None) -> bool:
    """E-mail a new member: an invitation with a link to choose a password when the account
    has none yet, or a notice that they were added (password untouched) when it has one."""
    tenant, user = membership.tenant, membership.user
    locale = tenant.locale or settings.LANGUAGE_CODE
    with translation.override(locale):
        role = str(membership.get_role_display())
    context = {
        "tenant": tenant,
        "role": role,
        "inviter": invited_by.email if invited_by is not None else "",
        "days": LINK_DAYS,
    }
    if user.has_usable_password():
        context["link"] = settings.PUBLIC_BASE_URL + reverse("login")
        return _send(template="member_added", to=user.email, context=context, locale=locale)
    context["link"] = invite_link(membership=membership)
    return _send(template="invite", to=user.email, context=context, locale=locale)


class AccountPasswordResetForm(PasswordResetForm):
    """Django's reset form, also for an invited person who never chose a password (their
    invitation expired): the link goes to the address itself, so it proves nothing more. The
    page answers the same whether the address exists or not."""

    def get_users(self, email):
        return User._default_manager.filter(email__iexact=email.strip(), is_active=True)
