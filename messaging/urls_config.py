"""The settings pages for message templates and provider accounts (under "settings/")."""

from django.urls import path

from messaging import views_config

urlpatterns = [
    path("templates/", views_config.template_list, name="config_templates"),
    path("templates/new/", views_config.template_edit, name="config_template_new"),
    path("templates/preview/", views_config.template_preview, name="config_template_preview"),
    path("templates/<int:pk>/", views_config.template_edit, name="config_template_edit"),
    path("providers/", views_config.provider_list, name="config_providers"),
    path("providers/new/", views_config.provider_edit, name="config_provider_new"),
    path("providers/<int:pk>/", views_config.provider_edit, name="config_provider_edit"),
    path("providers/<int:pk>/test/", views_config.provider_test, name="config_provider_test"),
]
