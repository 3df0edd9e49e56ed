"""The finance team's settings pages for message templates and provider accounts.

Every member reads them; only admins (and owners) write. The checks are the API's: templates go
through `template_check`, accounts through `provider_account_errors`, and the test send is the
API's `provider_test_send`. Credentials are only ever shown masked, and secret inputs never show
a value back."""

import re
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from messaging import hooks
from messaging.config import (
    CREDENTIAL_FIELDS,
    LOCALES,
    PROVIDER_CONFLICT,
    REQUIRED_CREDENTIALS,
    TEMPLATE_CONFLICT,
    provider_account_errors,
    provider_test_send,
    providers_for_channel,
)
from messaging.models import Channel, ProviderAccount, Template
from messaging.template_check import CHECKED_FIELDS, TemplateCheck, template_check_values
from tenants.decorators import tenant_required
from tenants.models import Role

ADMIN = Role.ADMIN


def _admin_writes(view):
    """Members read (GET); only admins write (POST). Checked in the view, whatever the page
    shows."""

    @wraps(view)
    @require_http_methods(["GET", "POST"])
    @tenant_required()
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and not request.membership.has_role(ADMIN):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _variable_names(text: str) -> list[str]:
    return [name for name in re.split(r"[\s,]+", text or "") if name]


# Templates


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
        fields = [
            "key",
            "name",
            "channel",
            "locale",
            "subject",
            "body",
            "content_sid",
            "content_variables",
        ]
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
        for name, errors in template_check_values(cleaned).errors.items():
            for error in errors:
                self.add_error(name if name in self.fields else None, error)
        return cleaned


def _template_check_from(data) -> TemplateCheck:
    values = {name: data.get(name) for name in CHECKED_FIELDS}
    values["content_variables"] = _variable_names(values["content_variables"])
    return template_check_values(values)


def _preview_context(check: TemplateCheck | None) -> dict:
    if check is None:
        return {"check": None}
    labels = {name: field.label for name, field in TemplateForm.base_fields.items()}
    return {
        "check": check,
        "errors": [(name, labels.get(name, name), errs) for name, errs in check.errors.items()],
        "content_variables": sorted(
            check.preview.get("content_variables", {}).items(), key=lambda item: int(item[0])
        ),
    }


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


@_admin_writes
def template_edit(request, pk: int | None = None):
    """Create or edit a template. Saving runs the API's checks; with errors nothing is written
    and the form comes back with each error beside its field."""
    template = get_object_or_404(Template, pk=pk) if pk else Template(tenant=request.tenant)
    check = None
    if request.method == "POST":
        form = TemplateForm(request.POST, instance=template)
        if form.is_valid():
            try:
                with transaction.atomic():
                    template = form.save()
            except IntegrityError:
                form.add_error("key", TEMPLATE_CONFLICT)
            else:
                messages.success(request, _("Template saved."))
                return redirect("config_template_edit", pk=template.pk)
        check = _template_check_from(request.POST)
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
                {name: getattr(template, name) for name in CHECKED_FIELDS}
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
            **_preview_context(check),
        },
    )


@require_POST
@tenant_required(ADMIN)
def template_preview(request):
    """The editor's live preview: the form's values rendered with the registry's samples, and
    the errors saving them would give. Writes nothing."""
    return render(
        request,
        "messaging/config/_template_preview.html",
        _preview_context(_template_check_from(request.POST)),
    )


# Provider accounts


class ProviderAccountForm(forms.ModelForm):
    """An account and the credentials its provider reads. A credential left blank keeps the
    stored one while the provider stays the same; credentials are never shown back."""

    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Channel.choices)

    class Meta:
        model = ProviderAccount
        fields = ["channel", "provider", "sender", "active"]
        labels = {
            "provider": gettext_lazy("Provider"),
            "sender": gettext_lazy("Sender"),
            "active": gettext_lazy("Active"),
        }
        help_texts = {
            "sender": gettext_lazy("The From address (e-mail) or number in E.164 (SMS, WhatsApp)."),
            "active": gettext_lazy("A channel has at most one active account."),
        }

    def __init__(self, *args, refresh_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        source = self.data if self.is_bound else self.initial
        channel = source.get("channel") or self.instance.channel or Channel.EMAIL
        if not self.is_bound:
            self.initial["channel"] = channel
        valid = providers_for_channel(channel) or providers_for_channel(Channel.EMAIL)
        provider = source.get("provider") or self.instance.provider
        if not self.is_bound and provider not in valid:
            # A channel picks its first real provider; the console one is the fallback.
            provider = next((kind for kind in valid if kind != "console"), valid[0])
            self.initial["provider"] = provider
        # Every provider stays a valid choice, so a mismatch gets the API's message; the
        # list only offers the channel's.
        self.fields["provider"].widget.choices = [
            (value, label) for value, label in self.fields["provider"].choices if value in valid
        ]
        if refresh_url:
            # Changing the channel or the provider redraws the form (provider options and
            # credential fields); only these non-secret values travel in the query string.
            for name in ("channel", "provider"):
                self.fields[name].widget.attrs.update(
                    {
                        "hx-get": refresh_url,
                        "hx-include": "#id_channel, #id_provider, #id_sender",
                        "hx-target": "#provider-form",
                        "hx-swap": "outerHTML",
                    }
                )
        stored = self.instance.credentials if self.instance.pk else {}
        masked = self.instance.masked_credentials() if self.instance.pk else {}
        self.keeps_credentials = bool(self.instance.pk) and provider == self.instance.provider
        self.credential_names = []
        for spec in CREDENTIAL_FIELDS.get(provider, ()):
            name = f"credential_{spec.name}"
            help_text = ""
            if self.keeps_credentials and stored.get(spec.name):
                # Help texts are rendered as HTML: the masked value is escaped.
                help_text = _("Stored: %(masked)s. Leave blank to keep it.") % {
                    "masked": escape(masked[spec.name])
                }
            if spec.choices:
                field = forms.ChoiceField(
                    choices=[("", "—"), *spec.choices], required=False, help_text=help_text
                )
            else:
                widget = (
                    forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
                    if spec.secret
                    else forms.TextInput(attrs={"autocomplete": "off"})
                )
                field = forms.CharField(required=False, widget=widget, help_text=help_text)
            field.label = spec.label
            self.fields[name] = field
            self.credential_names.append(name)
            optional = spec.name not in REQUIRED_CREDENTIALS.get(provider, ())
            if self.keeps_credentials and stored.get(spec.name) and optional:
                # Blank keeps a stored value: removing an optional one is said explicitly.
                self.fields[f"clear_{spec.name}"] = forms.BooleanField(
                    required=False,
                    label=_("Remove the stored %(field)s") % {"field": spec.label},
                )
                self.credential_names.append(f"clear_{spec.name}")

    @property
    def account_fields(self):
        return [self[name] for name in self._meta.fields]

    @property
    def credential_fields(self):
        return [self[name] for name in self.credential_names]

    def clean(self):
        cleaned = super().clean()
        channel, provider = cleaned.get("channel"), cleaned.get("provider")
        typed = {
            spec.name: str(cleaned.get(f"credential_{spec.name}") or "").strip()
            for spec in CREDENTIAL_FIELDS.get(provider, ())
        }
        current = self.instance.credentials if self.keeps_credentials else {}
        removed = {name for name in current if cleaned.get(f"clear_{name}")}
        self.credentials = {
            **{k: v for k, v in current.items() if k not in removed},
            **{k: v for k, v in typed.items() if v},
        }
        if channel and provider:
            errors = provider_account_errors(
                channel=channel, provider=provider, credentials=self.credentials
            )
            for name, messages_ in errors.items():
                for message in messages_:
                    # "credentials" is the fieldset: its errors are the form's own.
                    self.add_error(name if name in self.fields else None, message)
        return cleaned

    def save(self, commit: bool = True) -> ProviderAccount:
        account = super().save(commit=False)
        account.credentials = self.credentials
        if commit:
            account.save()
        return account


class RecipientForm(forms.Form):
    recipient = forms.CharField(
        label=gettext_lazy("Recipient"),
        max_length=254,
        help_text=gettext_lazy(
            "An e-mail address or a phone number in E.164, e.g. +5511987654321."
        ),
    )


@require_GET
@tenant_required()
def provider_list(request):
    accounts = list(ProviderAccount.objects.order_by("channel", "-active", "id"))
    channels = [
        {
            "value": value,
            "label": label,
            "accounts": [a for a in accounts if a.channel == value],
            "has_active": any(a.active for a in accounts if a.channel == value),
            "platform_provider": settings.MESSAGING_DEFAULT_PROVIDERS.get(value, "console"),
        }
        for value, label in Channel.choices
    ]
    return render(
        request,
        "messaging/config/provider_list.html",
        {"channels": channels, "can_edit": request.membership.has_role(ADMIN)},
    )


@_admin_writes
def provider_edit(request, pk: int | None = None):
    """Create or edit an account. For an HTMX GET (the channel or provider changed), only the
    form is drawn again."""
    account = (
        get_object_or_404(ProviderAccount, pk=pk) if pk else ProviderAccount(tenant=request.tenant)
    )
    refresh_url = request.path
    if request.method == "POST":
        form = ProviderAccountForm(request.POST, instance=account, refresh_url=refresh_url)
        if form.is_valid():
            try:
                with transaction.atomic():
                    account = form.save()
            except IntegrityError:
                form.add_error("active", PROVIDER_CONFLICT)
            else:
                messages.success(request, _("Provider account saved."))
                return redirect("config_provider_edit", pk=account.pk)
    else:
        initial = {
            name: request.GET[name]
            for name in ("channel", "provider", "sender")
            if request.GET.get(name)
        }
        form = ProviderAccountForm(instance=account, initial=initial, refresh_url=refresh_url)
    context = {
        "form": form,
        "account": account,
        "can_edit": request.membership.has_role(ADMIN),
        "test_form": RecipientForm(),
    }
    if request.htmx and request.method == "GET":
        return render(request, "messaging/config/_provider_form.html", context)
    return render(request, "messaging/config/provider_edit.html", context)


@require_POST
@tenant_required(ADMIN)
def provider_test(request, pk: int):
    """Send a test message through this account with the API's test send: the result, or the
    provider's error. For HTMX, the result partial; otherwise back to the account's page."""
    account = get_object_or_404(ProviderAccount, pk=pk)
    test_form = RecipientForm(request.POST)
    outcome = None
    if test_form.is_valid():
        outcome = provider_test_send(
            tenant=request.tenant,
            channel=account.channel,
            recipient=test_form.cleaned_data["recipient"],
            account=account,
        )
    if request.htmx:
        return render(
            request,
            "messaging/config/_provider_test.html",
            {"account": account, "test_form": test_form, "outcome": outcome},
        )
    if outcome is None:
        messages.error(request, " ".join(test_form.errors.get("recipient", [])))
    elif outcome.ok:
        messages.success(
            request,
            _("Test message sent through %(provider)s (%(id)s).")
            % {"provider": outcome.provider, "id": outcome.provider_message_id},
        )
    else:
        messages.error(request, _("The provider refused: %(error)s") % {"error": outcome.error})
    return redirect("config_provider_edit", pk=account.pk)
