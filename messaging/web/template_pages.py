"""The template pages: the list, the editor with its live preview."""

import re

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from messaging import hooks
from messaging.config import LOCALES
from messaging.models import Channel, Template
from messaging.template_check import CHECKED_FIELDS, TemplateCheck, template_check_values
from messaging.template_writes import TEMPLATE_FIELDS, TemplateError, template_save
from messaging.web.access import ADMIN, admin_writes
from messaging.web.form_errors import form_errors_add
from tenants.decorators import tenant_required

# The fields only some channels have; on the others they are hidden and cleared on save.
CHANNEL_FIELDS = {
    "subject": {Channel.EMAIL},
    "content_sid": {Channel.WHATSAPP},
    "content_variables": {Channel.WHATSAPP},
}


def _for_channel(values: dict) -> dict:
    """The values with the fields the channel does not have emptied."""
    values = dict(values)
    for name, channels in CHANNEL_FIELDS.items():
        if values.get("channel") not in channels and name in values:
            values[name] = [] if name == "content_variables" else ""
    return values


def _variable_names(text: str) -> list[str]:
    return [name for name in re.split(r"[\s,]+", text or "") if name]


class TemplateForm(forms.ModelForm):
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Channel.choices)
    locale = forms.ChoiceField(label=gettext_lazy("Language"), choices=LOCALES)
    content_variables = forms.CharField(
        label=gettext_lazy("Content template variables"),
        required=False,
        help_text=gettext_lazy(
            "WhatsApp only: the variable names that fill the placeholders {{1}}, {{2}}, … in "
            "order, separated by commas."
        ),
    )

    class Meta:
        model = Template
        fields = list(TEMPLATE_FIELDS)
        labels = {
            "key": gettext_lazy("Key"),
            "name": gettext_lazy("Name"),
            "subject": gettext_lazy("Subject"),
            "body": gettext_lazy("Text"),
            "content_sid": gettext_lazy("Content SID"),
        }
        help_texts = {
            "key": gettext_lazy(
                "Ladder steps name the key; each channel and language has its own version."
            ),
            "subject": gettext_lazy("E-mail only."),
            "content_sid": gettext_lazy(
                "WhatsApp only: the approved Content template that starts a conversation."
            ),
        }
        widgets = {"body": forms.Textarea(attrs={"rows": 10, "style": "width: 100%"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and isinstance(self.initial.get("content_variables"), list):
            self.initial["content_variables"] = ", ".join(self.initial["content_variables"])

    def clean_content_variables(self) -> list[str]:
        return _variable_names(self.cleaned_data.get("content_variables"))

    def clean(self):
        cleaned = super().clean()
        # A field the channel does not have is ignored (the editor hides it): cleared, so a
        # subject typed before switching to SMS is not kept.
        cleaned.update(_for_channel(cleaned))
        # Shown beside the fields together with the fields' own errors; `template_save` checks
        # again and is what refuses.
        form_errors_add(self, template_check_values(cleaned).errors)
        return cleaned


def _template_check_from(data, preview: dict) -> TemplateCheck:
    values = {name: data.get(name) for name in CHECKED_FIELDS}
    values["content_variables"] = _variable_names(values["content_variables"])
    return template_check_values(_for_channel(values), preview=preview)


def _preview_context(check: TemplateCheck | None, preview: dict) -> dict:
    # The invoice the preview shows, when it is one of the tenant's own (else the samples).
    invoice = preview.get("invoice_number") if preview else None
    if check is None:
        return {"check": None, "preview_invoice": invoice}
    labels = {name: field.label for name, field in TemplateForm.base_fields.items()}
    return {
        "check": check,
        "preview_invoice": invoice,
        "errors": [(name, labels.get(name, name), errs) for name, errs in check.errors.items()],
        "content_variables": sorted(
            check.preview.get("content_variables", {}).items(), key=lambda item: int(item[0])
        ),
    }


def _fields_of(form: TemplateForm) -> list[tuple]:
    """Each field with the channels it belongs to (empty: all) and whether it shows for the
    form's channel (the editor's script shows and hides them as the channel changes)."""
    channel = form["channel"].value() or ""
    rows = []
    for field in form:
        channels = CHANNEL_FIELDS.get(field.name)
        rows.append(
            (
                field,
                " ".join(sorted(str(c) for c in channels)) if channels else "",
                channels is None or channel in channels,
            )
        )
    return rows


@require_GET
@tenant_required()
def template_list(request):
    return render(
        request,
        "messaging/config/template_list.html",
        {
            "templates": Template.objects.order_by("key", "channel", "locale"),
            "can_edit": request.membership.has_role(ADMIN),
        },
    )


@admin_writes
def template_edit(request, pk: int | None = None):
    """Create or edit a template. Saving runs the API's checks; with errors nothing is written
    and the form comes back with each error beside its field."""
    template = get_object_or_404(Template, pk=pk) if pk else Template(tenant=request.tenant)
    preview = hooks.preview_values(request.tenant)
    check = None
    if request.method == "POST":
        form = TemplateForm(request.POST, instance=template)
        if form.is_valid():
            try:
                template = template_save(
                    tenant=request.tenant,
                    template=template if template.pk else None,
                    **form.cleaned_data,
                )
            except TemplateError as exc:
                form_errors_add(form, exc.errors)
            else:
                messages.success(request, _("Template saved."))
                return redirect("config_template_edit", pk=template.pk)
        check = _template_check_from(request.POST, preview)
        # Refused: the page again with what was typed, each error beside its field (the
        # check's and the save's), the first field to fix focused.
        bad = next((name for name in form.fields if name in form.errors), None)
        if bad is not None:
            form.fields[bad].widget.attrs["autofocus"] = True
    else:
        initial = {}
        if template.pk is None:
            # "New version of this key": the list links here with the key filled in.
            initial = {
                name: request.GET[name]
                for name in ("key", "name", "channel", "locale")
                if request.GET.get(name)
            }
        form = TemplateForm(instance=template, initial=initial)
        if template.pk is not None:
            check = template_check_values(
                {name: getattr(template, name) for name in CHECKED_FIELDS}, preview=preview
            )
    variables = [
        {"name": name, "description": description, "sample": sample}
        for name, (description, sample) in hooks.template_variables().items()
    ]
    return render(
        request,
        "messaging/config/template_edit.html",
        {
            "form": form,
            "template": template,
            "variables": variables,
            "variable_example": "{{ customer_name }}",
            "can_edit": request.membership.has_role(ADMIN),
            "fields": _fields_of(form),
            **_preview_context(check, preview),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@tenant_required(ADMIN)
def template_preview(request):
    """The editor's live preview: the form's values rendered with the registry's samples, and
    the errors saving them would give. Writes nothing."""
    preview = hooks.preview_values(request.tenant)
    return render(
        request,
        "messaging/config/_template_preview.html",
        _preview_context(_template_check_from(request.POST, preview), preview),
    )
