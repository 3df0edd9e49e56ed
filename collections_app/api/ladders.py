"""Ladders with their steps, and the segments that choose a customer's ladder."""

from rest_framework import mixins, serializers

from collections_app.api.base import TenantViewSet
from collections_app.api.fields import TenantPrimaryKeyField
from collections_app.engine.ladders import STEP_FIELDS, LadderError, ladder_save
from collections_app.invoices.segments import (
    SegmentError,
    segment_name_errors,
    segment_rule_clean,
    segment_save,
)
from collections_app.models import Ladder, LadderStep, Segment
from messaging.models import Channel


class LadderStepSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False)
    channels = serializers.ListField(child=serializers.ChoiceField(Channel.choices), required=False)
    offset_days = serializers.IntegerField(min_value=-365, max_value=365)

    class Meta:
        model = LadderStep
        fields = ["id", *STEP_FIELDS]


class LadderSerializer(serializers.ModelSerializer):
    steps = LadderStepSerializer(many=True, required=False)

    class Meta:
        model = Ladder
        fields = ["id", "name", "is_default", "thank_you_template_key", "steps", "created_at"]
        read_only_fields = ["id", "is_default", "created_at"]
        # Uniqueness per tenant is checked by the service, inside the tenant scope.
        validators = []

    def save(self, **kwargs):
        data = dict(self.validated_data)
        steps = data.pop("steps", None)
        try:
            self.instance, _created = ladder_save(
                tenant=self.context["request"].user.tenant,
                data=data,
                steps=[dict(s) for s in steps] if steps is not None else None,
                ladder=self.instance,
            )
        except LadderError as exc:
            raise serializers.ValidationError(exc.errors) from exc
        return self.instance


# Checked and saved by the services the segment pages use (`segment_save`), so both store the
# same rule and refuse the same input with the same messages. (No docstring: it would become
# the schema's description.)
class SegmentSerializer(serializers.ModelSerializer):
    ladder = TenantPrimaryKeyField(Ladder)

    class Meta:
        model = Segment
        fields = ["id", "name", "priority", "rule", "ladder", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []

    def validate_rule(self, rule):
        try:
            return segment_rule_clean(rule)
        except SegmentError as exc:
            raise serializers.ValidationError(exc.errors["rule"]) from exc

    def validate_name(self, name):
        tenant = self.context["request"].user.tenant
        if errors := segment_name_errors(tenant=tenant, name=name, segment=self.instance):
            raise serializers.ValidationError(errors)
        return name

    def save(self, **kwargs):
        data, current = self.validated_data, self.instance
        try:
            self.instance = segment_save(
                tenant=self.context["request"].user.tenant,
                segment=current,
                name=data["name"] if "name" in data else current.name,
                priority=data.get("priority", current.priority if current else 100),
                rule=data.get("rule"),
                ladder=data["ladder"] if "ladder" in data else current.ladder,
            )
        except SegmentError as exc:
            raise serializers.ValidationError(exc.errors) from exc
        return self.instance


class LadderViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantViewSet,
):
    serializer_class = LadderSerializer

    def tenant_queryset(self):
        return Ladder.objects.prefetch_related("steps").order_by("id")


class SegmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantViewSet,
):
    serializer_class = SegmentSerializer

    def tenant_queryset(self):
        return Segment.objects.select_related("ladder").order_by("priority", "id")
