"""`{{ address|email_wrap }}`: an e-mail address that a narrow screen may wrap only after its
"@" or before a dot of its domain, never in the middle of a word (nor sticking out of its box)."""

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def email_wrap(address: str) -> SafeString:
    local, at, domain = escape(str(address)).partition("@")
    if not at:
        return mark_safe(local)
    return mark_safe(f"{local}@<wbr>{domain.replace('.', '<wbr>.')}")
