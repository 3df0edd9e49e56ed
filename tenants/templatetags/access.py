"""`{% if request.membership|can_open:"bank" %}`: show a link only to a member whose role the
page's view lets in, as declared by `tenant_required(role)` on the view itself."""

from functools import cache

from django import template
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from tenants.models import Membership

register = template.Library()


@cache
def page_min_role(url_name: str) -> str | None:
    """The role `tenant_required` asks of the page named `url_name` (its URL without
    arguments), or None when the view does not declare one. Decorators that wrap the view
    with `functools.wraps` keep the chain in `__wrapped__`, which is followed to the
    `tenant_required` wrapper."""
    try:
        view = resolve(reverse(url_name)).func
    except (NoReverseMatch, Resolver404):
        return None
    while view is not None:
        role = getattr(view, "tenant_min_role", None)
        if role is not None:
            return role
        view = getattr(view, "__wrapped__", None)
    return None


@register.filter
def can_open(membership: Membership | None, url_name: str) -> bool:
    """Whether the member may open the page: True without a declared role, and without a
    membership (the page then asks for a login or a company, it does not refuse)."""
    role = page_min_role(url_name)
    if role is None or membership is None:
        return True
    return membership.has_role(role)
