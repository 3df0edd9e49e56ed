"""What happened and what is to do: messages sent, the interactions timeline, follow-up tasks."""

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from collections_app.activity.followups import task_close
from collections_app.api.base import TenantViewSet
from collections_app.api.fields import date_in_range
from collections_app.models import FollowUpTask, Interaction, InvoiceMessage, TaskStatus
from messaging.models import Message


class MessageSerializer(serializers.ModelSerializer):
    invoice = serializers.CharField(source="invoice_external_id", read_only=True, allow_null=True)
    step_offset = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "invoice",
            "channel",
            "provider",
            "recipient",
            "purpose",
            "status",
            "subject",
            "body",
            "step_offset",
            "error",
            "attempts",
            "created_at",
            "sent_at",
            "delivered_at",
            "read_at",
        ]
        read_only_fields = fields


class InteractionSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    invoice = serializers.CharField(
        source="invoice.external_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "invoice",
            "message",
            "kind",
            "channel",
            "summary",
            "data",
            "occurred_at",
        ]
        read_only_fields = fields


NOT_A_MEMBER = gettext_lazy("Not a member of this tenant.")


class TaskSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    invoice = serializers.CharField(
        source="invoice.external_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = FollowUpTask
        fields = [
            "id",
            "customer",
            "invoice",
            "title",
            "notes",
            "status",
            "assignee",
            "due_on",
            "created_at",
            "completed_at",
        ]
        read_only_fields = ["id", "customer", "invoice", "title", "created_at", "completed_at"]
        extra_kwargs = {
            "due_on": {"validators": [date_in_range]},
            # One answer for a user of another company and a user id that does not exist, so
            # the API does not tell which user ids exist.
            "assignee": {"error_messages": {"does_not_exist": NOT_A_MEMBER}},
        }

    def validate_assignee(self, user):
        tenant = self.context["request"].user.tenant
        if user is not None and not user.memberships.filter(tenant=tenant).exists():
            raise serializers.ValidationError(NOT_A_MEMBER)
        return user


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("channel", str),
            OpenApiParameter("invoice", str, description="invoice external_id"),
        ]
    )
)
class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    serializer_class = MessageSerializer

    def tenant_queryset(self):
        links = InvoiceMessage.objects.filter(message=OuterRef("pk")).order_by("id")
        qs = Message.objects.annotate(
            invoice_external_id=Subquery(links.values("invoice__external_id")[:1]),
            step_offset=Subquery(links.values("dispatch__step__offset_days")[:1]),
        ).order_by("id")
        if value := self.query_param("status"):
            qs = qs.filter(status=value)
        if value := self.query_param("channel"):
            qs = qs.filter(channel=value)
        if value := self.query_param("invoice"):
            qs = qs.filter(invoice_links__invoice__external_id=value)
        return qs


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("invoice", str, description="invoice external_id")]
    )
)
class InteractionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    serializer_class = InteractionSerializer

    def tenant_queryset(self):
        qs = Interaction.objects.select_related("customer", "invoice").order_by(
            "-occurred_at", "-id"
        )
        if value := self.query_param("invoice"):
            qs = qs.filter(invoice__external_id=value)
        return qs


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("status", str)]))
class TaskViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, TenantViewSet
):
    serializer_class = TaskSerializer

    def tenant_queryset(self):
        qs = FollowUpTask.objects.select_related("customer", "invoice").order_by("due_on", "id")
        if value := self.query_param("status"):
            qs = qs.filter(status=value)
        return qs

    def perform_update(self, serializer):
        """An open task marked done is closed by `task_close`, with the same timeline entry
        as the task page; the other fields are saved as given."""
        closing = (
            serializer.validated_data.get("status") == TaskStatus.DONE
            and serializer.instance.status == TaskStatus.OPEN
        )
        with transaction.atomic():
            if closing:
                serializer.validated_data.pop("status")
            task = serializer.save()
            if closing:
                task_close(tenant=self.tenant, task=task)
