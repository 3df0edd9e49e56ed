from django.urls import path

from collections_app.web import settings as views

urlpatterns = [
    path("", views.settings_index, name="settings"),
    path("company/", views.company_settings, name="settings_company"),
    path("company/holidays/", views.holiday_add, name="settings_holiday_add"),
    path(
        "company/holidays/<int:pk>/delete/",
        views.holiday_delete,
        name="settings_holiday_delete",
    ),
    path("team/", views.team, name="settings_team"),
    path("team/<int:pk>/", views.member_change, name="settings_member"),
    path("api-keys/", views.api_keys, name="settings_api_keys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_delete, name="settings_api_key_revoke"),
    path("webhooks/", views.webhooks, name="settings_webhooks"),
    path("webhooks/<int:pk>/", views.webhook_change, name="settings_webhook"),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        views.webhook_redeliver_view,
        name="settings_webhook_redeliver",
    ),
]
