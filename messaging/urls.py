from django.urls import path

from messaging import webhooks

urlpatterns = [
    path("twilio/<slug:tenant_slug>/status/", webhooks.twilio_status, name="webhook_twilio_status"),
    path(
        "twilio/<slug:tenant_slug>/inbound/",
        webhooks.twilio_inbound,
        name="webhook_twilio_inbound",
    ),
    path(
        "sendgrid/<slug:tenant_slug>/events/",
        webhooks.sendgrid_events,
        name="webhook_sendgrid_events",
    ),
]
