from django.urls import path
from rest_framework.routers import DefaultRouter

from collections_app.api import engine as api_engine
from collections_app.api import resources as api
from collections_app.api import webhooks as api_webhooks
from messaging import api as messaging_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("customers", api.CustomerViewSet, basename="customer")
router.register("invoices", api.InvoiceViewSet, basename="invoice")
router.register("payments", api.PaymentViewSet, basename="payment")
router.register("agreements", api.AgreementViewSet, basename="agreement")
router.register("messages", api.MessageViewSet, basename="message")
router.register("interactions", api.InteractionViewSet, basename="interaction")
router.register("tasks", api.TaskViewSet, basename="task")
router.register("ladders", api.LadderViewSet, basename="ladder")
router.register("segments", api.SegmentViewSet, basename="segment")
router.register("templates", messaging_api.TemplateViewSet, basename="template")
router.register(
    "provider-accounts", messaging_api.ProviderAccountViewSet, basename="provider-account"
)
router.register(
    "webhook-endpoints", api_webhooks.WebhookEndpointViewSet, basename="webhook-endpoint"
)
router.register(
    "webhook-deliveries", api_webhooks.WebhookDeliveryViewSet, basename="webhook-delivery"
)

urlpatterns = [
    path("metrics/", api.MetricsView.as_view(), name="api-metrics"),
    path("metrics/recovery/", api.RecoveryView.as_view(), name="api-recovery"),
    path(
        "invoices/<int:pk>/explain/",
        api_engine.InvoiceExplainView.as_view(),
        name="api-invoice-explain",
    ),
    path("forecast/", api_engine.ForecastView.as_view(), name="api-forecast"),
    *router.urls,
]
