"""The team and API-key pages, included under "settings/"."""

from django.urls import path

from tenants import views

urlpatterns = [
    path("team/", views.team, name="settings_team"),
    path("team/<int:pk>/", views.member_change, name="settings_member"),
    path("team/<int:pk>/resend/", views.member_resend_invite, name="settings_member_resend"),
    path("api-keys/", views.api_keys, name="settings_api_keys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_delete, name="settings_api_key_revoke"),
]
