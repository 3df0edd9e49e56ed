"""Checking a template before it is saved, and previewing it with the registry's samples.

Errors are per field and say what is wrong: a syntax error with its line, a variable that is
not in the registry, attribute or item access (the way out of the sandbox that injection
payloads such as `{{ ''.__class__.__mro__ }}` try), an e-mail without a subject, an SMS longer
than MAX_SMS_SEGMENTS segments, a WhatsApp Content SID or variable mapping that cannot work, a
template over the rendering limits of `template_budget` with the samples (too long a text, too
many loop iterations or macro calls…).
The preview renders every part with the samples, and gives the SMS's encoding and segments."""

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from messaging import hooks
from messaging.email_html import text_to_html
from messaging.sms import sms_size
from messaging.templating import (
    TemplateRenderError,
    template_render,
    template_validate,
    unknown_variables_message,
)

MAX_SMS_SEGMENTS = 4
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")


@dataclass
class TemplateCheck:
    errors: dict[str, list[str]] = field(default_factory=dict)
    preview: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def template_check(
    *,
    channel: str,
    body: str,
    subject: str = "",
    content_sid: str = "",
    content_variables: list | None = None,
    values: dict | None = None,
) -> TemplateCheck:
    """`values`, if given, are what the preview shows instead of the registry's samples (e.g.
    one of the tenant's own invoices); the checks are the same."""
    variables = hooks.template_variables()
    samples = {name: sample for name, (_description, sample) in variables.items()}
    if values:
        samples = {name: str(values.get(name, sample)) for name, sample in samples.items()}
    check = TemplateCheck()
    parts = {"body": body}
    if channel == "email":
        parts["subject"] = subject
        if not subject.strip():
            check.add("subject", _("An e-mail needs a subject."))
    if not body.strip():
        check.add("body", _("The text is empty."))
    for name, source in parts.items():
        try:
            template_validate(source, allowed=samples)
            check.preview[name] = template_render(source, samples)
        except TemplateRenderError as exc:
            check.add(name, str(exc))
    if channel == "email" and "body" not in check.errors:
        try:  # escaping makes the text longer: it may go over a limit the plain text did not
            check.preview["html"] = text_to_html(template_render(body, samples, html=True))
        except TemplateRenderError as exc:
            check.add("body", str(exc))
    if channel == "sms" and "body" in check.preview:
        size = sms_size(check.preview["body"])
        check.preview["sms"] = {
            "encoding": size.encoding,
            "characters": size.units,
            "segments": size.segments,
        }
        if size.segments > MAX_SMS_SEGMENTS:
            check.add(
                "body",
                _(
                    "With the sample values the SMS takes %(segments)s segments (%(encoding)s, "
                    "%(characters)s characters); the limit is %(limit)s."
                )
                % {
                    "segments": size.segments,
                    "encoding": size.encoding,
                    "characters": size.units,
                    "limit": MAX_SMS_SEGMENTS,
                },
            )
    if channel == "whatsapp":
        _check_whatsapp(check, content_sid, content_variables or [], samples)
    elif content_sid or content_variables:
        check.add("content_sid", _("Only WhatsApp templates have a Content SID."))
    return check


CHECKED_FIELDS = ("channel", "subject", "body", "content_sid", "content_variables")


def template_check_values(values: dict, *, preview: dict | None = None) -> TemplateCheck:
    """`template_check` over a form's or a serializer's values (missing or None: empty), the
    preview made with `preview`'s values if given."""
    return template_check(
        values=preview,
        channel=values.get("channel") or "",
        subject=values.get("subject") or "",
        body=values.get("body") or "",
        content_sid=values.get("content_sid") or "",
        content_variables=values.get("content_variables") or [],
    )


def _check_whatsapp(check: TemplateCheck, sid: str, mapping: list, samples: dict) -> None:
    if mapping and not sid:
        check.add("content_sid", _("The variables map a Content template: give its SID."))
    if sid and not CONTENT_SID.fullmatch(sid):
        check.add("content_sid", _("A Content SID is HX followed by 32 hexadecimal digits."))
    if not all(isinstance(name, str) for name in mapping):
        check.add("content_variables", _("List the variables by name, in order."))
        return
    unknown = [name for name in mapping if name not in samples]
    if unknown:
        check.add(
            "content_variables",
            unknown_variables_message(unknown),
        )
    elif sid:
        check.preview["content_variables"] = {
            str(n): samples[name] for n, name in enumerate(mapping, 1)
        }
