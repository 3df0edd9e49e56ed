"""Outbound webhook subscriptions over the API (docs/api.md, "Outbound webhooks").

`webhook-endpoints/`: the tenant's endpoints, with the same checks as the settings page (the
URL through `url_check`, the events from `WebhookEvent`); the signing secret is shown once, when
the endpoint is created or its secret rotated. `webhook-deliveries/`: the delivery log, and
sending a settled delivery again. Both share their operations with the settings page through
`webhooks_out`."""

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from collections_app.api.base import TenantViewSet
from collections_app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from collections_app.webhooks_out.endpoints import (
    EndpointError,
    webhook_endpoint_delete,
    webhook_endpoint_save,
)
from collections_app.webhooks_out.events import (
    PING_EVENT,
    WebhookError,
    webhook_ping,
    webhook_redeliver,
    webhook_secret_rotate,
)

# What a delivery's `event` can be: the events endpoints subscribe to, and the test delivery.
DELIVERY_EVENTS = [*WebhookEvent.choices, (PING_EVENT, gettext_lazy("Test delivery"))]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = serializers.URLField(
        max_length=500,
        help_text="http(s); refused when its host resolves to a private, loopback or "
        "link-local address.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(WebhookEvent.choices),
        allow_empty=False,
        help_text="The events this endpoint receives (at least one).",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """An endpoint with its signing secret: only the answer to creating it or rotating it."""

    secret = serializers.CharField(
        read_only=True,
        help_text="The key of the deliveries' HMAC-SHA256 signature. Shown only in this answer: "
        "keep it.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.ChoiceField(DELIVERY_EVENTS, read_only=True)
    last_status_code = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The HTTP status of the last answer."
    )
    next_attempt_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When it is tried next (pending only)."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


class EndpointDeliveryFilter(serializers.Serializer):
    """The filters of an endpoint's delivery log (query parameters)."""

    status = serializers.ChoiceField(DeliveryStatus.choices, required=False, allow_blank=True)
    event = serializers.ChoiceField(DELIVERY_EVENTS, required=False, allow_blank=True)


class DeliveryFilter(EndpointDeliveryFilter):
    """The filters of the tenant's delivery log (query parameters)."""

    endpoint = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="An endpoint's id."
    )


def _deliveries_page(view, queryset, filters: type[serializers.Serializer]) -> Response:
    """A page of the delivery log, newest first, filtered by the request's query parameters
    (a 400 per parameter for values that are not valid)."""
    params = filters(data=view.request.query_params)
    params.is_valid(raise_exception=True)
    lookups = {name: value for name, value in params.validated_data.items() if value != ""}
    if "endpoint" in lookups:
        lookups["endpoint_id"] = lookups.pop("endpoint")
    page = view.paginate_queryset(queryset.filter(**lookups).order_by("-created_at", "-id"))
    return view.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


def _accepted(delivery: WebhookDelivery) -> Response:
    delivery.refresh_from_db()  # a worker (or an eager task) may have tried it already
    return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    create=extend_schema(responses={201: WebhookEndpointWithSecretSerializer}),
    destroy=extend_schema(description="Remove the endpoint, and its delivery log."),
)
class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    """The tenant's outbound webhook endpoints: a URL and the events it receives, each one a
    JSON POST signed with the endpoint's secret (`X-Regua-Signature`). The secret is in the
    answer to `POST` (and to `rotate-secret`) only; an inactive endpoint receives nothing."""

    serializer_class = WebhookEndpointSerializer

    def tenant_queryset(self):
        return WebhookEndpoint.objects.order_by("id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = self._save(**serializer.validated_data)
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    def perform_update(self, serializer):
        serializer.instance = self._save(endpoint=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        webhook_endpoint_delete(tenant=self.tenant, endpoint=instance)

    def _save(self, **fields) -> WebhookEndpoint:
        """Through the service the settings page uses: its URL and events checks, as 400s."""
        try:
            return webhook_endpoint_save(tenant=self.tenant, **fields)
        except EndpointError as exc:
            raise serializers.ValidationError(
                {field: [message] for field, message in exc.errors.items()}
            ) from exc

    @extend_schema(request=None, responses=WebhookEndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """Give the endpoint a new signing secret, shown in this answer only. The old one stops
        at once: deliveries from now on, retries included, are signed with the new one."""
        endpoint = self.get_object()
        webhook_secret_rotate(endpoint=endpoint)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        """Send the endpoint a test delivery (`event` = `ping`), even when it is inactive:
        signed, logged and retried like any other. Follow it in `webhook-deliveries/<id>/`."""
        return _accepted(webhook_ping(endpoint=self.get_object()))

    @extend_schema(
        parameters=[EndpointDeliveryFilter], responses=WebhookDeliverySerializer(many=True)
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The endpoint's deliveries, newest first."""
        endpoint = self.get_object()
        return _deliveries_page(
            self, WebhookDelivery.objects.filter(endpoint=endpoint), EndpointDeliveryFilter
        )


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The delivery log: each event sent to each endpoint, with its status (`pending` until
    the endpoint answers 2xx or the attempts run out), attempts and last answer."""

    serializer_class = WebhookDeliverySerializer

    def tenant_queryset(self):
        return WebhookDelivery.objects.order_by("-created_at", "-id")

    @extend_schema(parameters=[DeliveryFilter])
    def list(self, request, *args, **kwargs):
        """The tenant's deliveries, newest first."""
        return _deliveries_page(self, self.get_queryset(), DeliveryFilter)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        """Send a delivered or failed delivery again, with a fresh round of attempts (after
        fixing the receiver, say). A pending one is refused (400): it is retried on its own."""
        delivery = self.get_object()
        try:
            webhook_redeliver(delivery=delivery)
        except WebhookError as exc:
            raise serializers.ValidationError({"status": [str(exc)]}) from exc
        return _accepted(delivery)
