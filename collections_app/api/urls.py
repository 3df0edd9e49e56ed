from django.urls import path
from rest_framework.routers import DefaultRouter

from collections_app.api import engine as api_engine
from collections_app.api import webhooks as api_webhooks
from collections_app.api.activity import InteractionViewSet, MessageViewSet, TaskViewSet
from collections_app.api.agreements import AgreementViewSet
from collections_app.api.customers import CustomerViewSet
from collections_app.api.invoices import InvoiceViewSet, PaymentViewSet
from collections_app.api.ladders import LadderViewSet, SegmentViewSet
from collections_app.api.metrics import MetricsView, RecoveryView
from messaging import api as messaging_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("customers", CustomerViewSet, basename="customer")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("payments", PaymentViewSet, basename="payment")
router.register("agreements", AgreementViewSet, basename="agreement")
router.register("messages", MessageViewSet, basename="message")
router.register("interactions", InteractionViewSet, basename="interaction")
router.register("tasks", TaskViewSet, basename="task")
router.register("ladders", LadderViewSet, basename="ladder")
router.register("segments", SegmentViewSet, basename="segment")
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
    path("metrics/", MetricsView.as_view(), name="api-metrics"),
    path("metrics/recovery/", RecoveryView.as_view(), name="api-recovery"),
    path(
        "invoices/<int:pk>/explain/",
        api_engine.InvoiceExplainView.as_view(),
        name="api-invoice-explain",
    ),
    path("forecast/", api_engine.ForecastView.as_view(), name="api-forecast"),
    *router.urls,
]
