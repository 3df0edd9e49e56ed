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
    path("webhooks/", views.webhooks, name="settings_webhooks"),
    path("webhooks/<int:pk>/", views.webhook_change, name="settings_webhook"),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        views.webhook_redeliver_view,
        name="settings_webhook_redeliver",
    ),
]
