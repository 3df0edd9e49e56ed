"""The settings pages for message templates and provider accounts, and the messages with a
problem (under "settings/")."""

from django.urls import path

from messaging.web import attention_pages, provider_pages, template_pages

urlpatterns = [
    path("templates/", template_pages.template_list, name="config_templates"),
    path("templates/new/", template_pages.template_edit, name="config_template_new"),
    path("templates/preview/", template_pages.template_preview, name="config_template_preview"),
    path("templates/<int:pk>/", template_pages.template_edit, name="config_template_edit"),
    path("providers/", provider_pages.provider_list, name="config_providers"),
    path("providers/new/", provider_pages.provider_edit, name="config_provider_new"),
    path("providers/<int:pk>/", provider_pages.provider_edit, name="config_provider_edit"),
    path("providers/<int:pk>/test/", provider_pages.provider_test, name="config_provider_test"),
    path("messages/problems/", attention_pages.message_problems, name="message_problems"),
    path(
        "messages/problems/<int:pk>/resolve/",
        attention_pages.message_resolve,
        name="message_resolve",
    ),
]
