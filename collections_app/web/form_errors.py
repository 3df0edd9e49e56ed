"""Validation errors (DRF's or a service's) flattened for the configuration pages' forms, and
the reading of a date typed in a form, with the error to show beside its field."""

from datetime import date, datetime

from django.forms import CheckboxSelectMultiple
from django.utils.translation import gettext as _


def messages_of(errors) -> list[str]:
    """DRF or LadderError messages, flattened (list fields report per item)."""
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in messages_of(value)]
    if isinstance(errors, list | tuple):
        return [m for value in errors for m in messages_of(value)]
    return [str(errors)]


def field_errors(errors: dict) -> dict[str, list[str]]:
    return {field: messages_of(value) for field, value in errors.items()}


def typed_date(text: str | None) -> date | None:
    """A date typed in a form: the ISO form a date input posts, or dd/mm/yyyy. None when blank;
    ValueError, with the message to show beside the field, when it is not a date."""
    text = (text or "").strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(_("Enter the date as dd/mm/yyyy."))


def errors_described(form):
    """Point each field that has an error at its error list (`<field id>-error`, beside the
    field in the page), so a screen reader reads the error with the field; a group of boxes is
    left to its fieldset. Returns the form."""
    for name in form.errors:
        if name in form.fields:
            if isinstance(form.fields[name].widget, CheckboxSelectMultiple):
                continue  # a group of boxes: its fieldset names the error, in the template
            attrs = form.fields[name].widget.attrs
            attrs["aria-describedby"] = f"{form[name].id_for_label}-error"
            attrs["aria-invalid"] = "true"
    return form
