"""Login throttling (django-axes): failed logins are counted per account and address
(LOGIN_FAILURE_LIMIT) and per address over every account (LOGIN_ADDRESS_FAILURE_LIMIT) within
LOGIN_LOCKOUT_MINUTES of the last failure. Over either limit the login form answers 429 with a
pt-BR message, even to the right password, and a warning is logged.

Only an account and address pair is locked, never an account alone: a stranger who types
someone's e-mail wrongly five times locks out their own address, not the owner of the account.
The API keys (tenants.api_auth) and the payment page keep their own limits; neither calls
`authenticate()`, so nothing here applies to them."""

import logging
import math

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils.translation import ngettext

from tenants.request_address import client_address

log = logging.getLogger("tenants.login")


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses every login of a locked-out account and address, the right password included.
    Calls without a request come from code (tests, shell, management commands), never from a
    login form, so they are left to the next backend instead of failing."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit per lockout parameter: AXES_LOCKOUT_PARAMETERS is
    [[username, ip_address], ip_address] and the address alone gets the higher
    LOGIN_ADDRESS_FAILURE_LIMIT (an office behind one address has many users). Axes compares
    one count with one limit (AXES_FAILURE_LIMIT, the per-account one), so an address over its
    own limit reports at least that limit."""

    def get_failures(self, request, credentials=None) -> int:
        per_account_and_address, per_address = (
            sum(attempts.values_list("failures_since_start", flat=True))
            for attempts in self.get_user_attempts(request, credentials)
        )
        if per_address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(per_account_and_address, settings.AXES_FAILURE_LIMIT)
        return per_account_and_address


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, with the lockout message, answered 429."""
    minutes = math.ceil(get_cool_off(request).total_seconds() / 60)
    log.warning(
        "login locked out: too many failures from address %s (account %s)",
        client_address(request),
        (credentials or {}).get("username", "?"),
    )
    form = AuthenticationForm(request)
    message = ngettext(
        "Too many login attempts. Try again in %(minutes)d minute.",
        "Too many login attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    return render(
        request,
        "registration/login.html",
        {"form": form, "lockout_message": message, "next": request.POST.get("next", "")},
        status=429,
    )
