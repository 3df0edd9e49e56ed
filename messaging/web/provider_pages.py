"""The provider account pages: the accounts by channel, the account editor and its test send."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from messaging.config import (
    CREDENTIAL_FIELDS,
    REQUIRED_CREDENTIALS,
    credentials_kept,
    provider_account_errors,
    provider_test_send,
    providers_for_channel,
)
from messaging.models import Channel, ProviderAccount
from messaging.provider_account_writes import (
    ACCOUNT_FIELDS,
    ProviderAccountError,
    provider_account_save,
)
from messaging.web.access import ADMIN, admin_writes
from messaging.web.form_errors import form_errors_add
from tenants.decorators import tenant_required


class ProviderAccountForm(forms.ModelForm):
    """An account and the credentials its provider reads. A credential left blank keeps the
    stored one while the provider stays the same; credentials are never shown back."""

    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Channel.choices)

    class Meta:
        model = ProviderAccount
        fields = list(ACCOUNT_FIELDS)
        labels = {
            "provider": gettext_lazy("Provider"),
            "sender": gettext_lazy("Sender"),
            "active": gettext_lazy("Active"),
        }
        help_texts = {
            "sender": gettext_lazy("The From address (e-mail) or number in E.164 (SMS, WhatsApp)."),
            "active": gettext_lazy("A channel has at most one active account."),
        }

    def __init__(self, *args, refresh_url: str = "", show_secrets: bool = False, **kwargs):
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
            if self.keeps_credentials and stored.get(spec.name) and show_secrets:
                # Help texts are rendered as HTML: the masked value is escaped.
                help_text = _("Stored: %(masked)s. Leave blank to keep it.") % {
                    "masked": escape(masked[spec.name])
                }
            elif self.keeps_credentials and stored.get(spec.name):
                help_text = _("A value is stored; only admins see its last characters.")
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

    @property
    def account_values(self) -> dict:
        """The account's own fields as cleaned, for `provider_account_save`."""
        return {name: self.cleaned_data[name] for name in self._meta.fields}

    def clean(self):
        cleaned = super().clean()
        channel, provider = cleaned.get("channel"), cleaned.get("provider")
        typed = {
            spec.name: str(cleaned.get(f"credential_{spec.name}") or "").strip()
            for spec in CREDENTIAL_FIELDS.get(provider, ())
        }
        current = (
            credentials_kept(provider=provider, stored=self.instance.credentials, typed=typed)
            if self.keeps_credentials
            else {}
        )
        removed = {name for name in current if cleaned.get(f"clear_{name}")}
        self.credentials = {
            **{k: v for k, v in current.items() if k not in removed},
            **{k: v for k, v in typed.items() if v},
        }
        if channel and provider:
            # Shown beside the fields together with the fields' own errors ("credentials" is
            # the fieldset: its errors are the form's own); `provider_account_save` checks
            # again and is what refuses.
            form_errors_add(
                self,
                provider_account_errors(
                    channel=channel, provider=provider, credentials=self.credentials
                ),
            )
        return cleaned


class RecipientForm(forms.Form):
    recipient = forms.CharField(
        label=gettext_lazy("Recipient"),
        max_length=254,
        help_text=gettext_lazy(
            "An e-mail address or a phone number in E.164, e.g. +5511987654321."
        ),
    )


def secrets_visible(request) -> bool:
    """Stored credentials are shown (masked) to admins and owners only: agents and viewers may
    read the accounts, not any part of their secrets."""
    return request.membership.has_role(ADMIN)


@require_GET
@tenant_required()
def provider_list(request):
    accounts = list(ProviderAccount.objects.order_by("channel", "-active", "id"))
    visible = secrets_visible(request)
    for account in accounts:
        account.credentials_shown = account.masked_credentials() if visible else None
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


@admin_writes
def provider_edit(request, pk: int | None = None):
    """Create or edit an account. For an HTMX GET (the channel or provider changed), only the
    form is drawn again."""
    account = (
        get_object_or_404(ProviderAccount, pk=pk) if pk else ProviderAccount(tenant=request.tenant)
    )
    refresh_url = request.path
    if request.method == "POST":
        form = ProviderAccountForm(
            request.POST, instance=account, refresh_url=refresh_url, show_secrets=True
        )
        if form.is_valid():
            try:
                account = provider_account_save(
                    tenant=request.tenant,
                    account=account if account.pk else None,
                    credentials=form.credentials,
                    **form.account_values,
                )
            except ProviderAccountError as exc:
                form_errors_add(form, exc.errors)
            else:
                messages.success(request, _("Provider account saved."))
                return redirect("config_provider_edit", pk=account.pk)
    else:
        initial = {
            name: request.GET[name]
            for name in ("channel", "provider", "sender")
            if request.GET.get(name)
        }
        form = ProviderAccountForm(
            instance=account,
            initial=initial,
            refresh_url=refresh_url,
            show_secrets=secrets_visible(request),
        )
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
