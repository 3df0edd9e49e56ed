from django.contrib import admin

from .models import Message, ProviderAccount, Template


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
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
