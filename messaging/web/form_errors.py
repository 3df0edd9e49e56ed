"""Putting per-field messages (a check's, or a write service's refusal) on a settings form."""

from django import forms


def form_errors_add(form: forms.BaseForm, errors: dict[str, list[str]]) -> None:
    """Each message beside its field; a message for a name the form has no field for (the
    credentials fieldset, say) becomes the form's own."""
    for name, messages in errors.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
