"""Writing a tenant's message templates: the one path the settings page and the API share, so
both run the same checks and refuse a repeated key, channel and locale the same way."""

from django.db import IntegrityError, transaction

from messaging.config import TEMPLATE_CONFLICT
from messaging.field_errors import FieldErrors
from messaging.models import Template
from messaging.template_check import CHECKED_FIELDS, template_check_values
from tenants.models import Tenant

# What a tenant edits of a template, in the order the API and the editor show them.
TEMPLATE_FIELDS = (
    "key",
    "name",
    "channel",
    "locale",
    "subject",
    "body",
    "content_sid",
    "content_variables",
)


class TemplateError(FieldErrors):
    """A template that cannot be saved, with the messages per field."""


def template_save(*, tenant: Tenant, template: Template | None = None, **fields) -> Template:
    """Create a template (`template=None`) or change the fields given of one, in one
    transaction. The result must pass `template_check` (syntax, only the registry's variables,
    an e-mail's subject, an SMS's segments, a WhatsApp Content mapping), a field not given
    counting with its stored value; its key, channel and locale must not be another of the
    tenant's templates'. Each field's own format (a slug key, a known channel and locale, the
    lengths) is the caller's form or serializer's. Raises TemplateError with the messages per
    field, writing nothing; Template.DoesNotExist for another tenant's template."""
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    if template is not None and template.tenant_id != tenant.pk:
        raise Template.DoesNotExist
    check = template_check_values(
        {name: fields.get(name, getattr(template, name, None)) for name in CHECKED_FIELDS}
    )
    if not check.ok:
        raise TemplateError(check.errors)
    if template is None:
        template = Template(tenant=tenant)
    for name, value in fields.items():
        setattr(template, name, value)
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError as exc:
        raise TemplateError({"key": [str(TEMPLATE_CONFLICT)]}) from exc
    return template
