from django import forms
from django.contrib import admin

from messaging.models import Message, ProviderAccount, Template
from messaging.template_check import template_check_values
from messaging.template_writes import TEMPLATE_FIELDS
from messaging.web.form_errors import form_errors_add


class TemplateAdminForm(forms.ModelForm):
    """The operators' admin applies the same checks as the API before saving."""

    class Meta:
        model = Template
        fields = ["tenant", *TEMPLATE_FIELDS]

    def clean(self):
        cleaned = super().clean()
        form_errors_add(self, template_check_values(cleaned).errors)
        return cleaned


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    form = TemplateAdminForm
    list_display = ["tenant", "key", "channel", "locale", "name", "updated_at"]
    list_filter = ["tenant", "channel", "locale"]
    search_fields = ["key", "name", "subject", "body"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "channel", "recipient", "purpose", "status", "created_at"]
    list_filter = ["tenant", "channel", "status", "purpose"]
    search_fields = ["recipient", "ref", "provider_message_id"]
    readonly_fields = ["ref", "created_at", "sending_at", "sent_at", "delivered_at", "read_at"]


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    list_display = ["tenant", "channel", "provider", "sender", "active"]
    list_filter = ["tenant", "channel", "provider"]
    exclude = ["credentials_encrypted"]
