from django.urls import path

from . import webhooks

urlpatterns = [
    path("twilio/<slug:tenant_slug>/status/", webhooks.twilio_status, name="webhook_twilio_status"),
]
