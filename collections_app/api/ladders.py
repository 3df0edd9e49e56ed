"""Ladders with their steps, and the segments that choose a customer's ladder."""

from decimal import Decimal

from django.utils.translation import gettext as _
from rest_framework import mixins, serializers

from collections_app.api.base import TenantViewSet
from collections_app.api.fields import TenantPrimaryKeyField
from collections_app.engine.ladders import STEP_FIELDS, LadderError, ladder_save
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


SEGMENT_RULE_KINDS = {"manual", "tag", "amount_at_least", "behaviour"}
BEHAVIOURS = {"new", "on_time", "sometimes_late", "chronically_late"}


class SegmentSerializer(serializers.ModelSerializer):
    ladder = TenantPrimaryKeyField(Ladder)

    class Meta:
        model = Segment
        fields = ["id", "name", "priority", "rule", "ladder", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []

    def validate_rule(self, rule):
        if not isinstance(rule, dict) or rule.get("kind") not in SEGMENT_RULE_KINDS:
            raise serializers.ValidationError(
                _('Give {"kind": one of %s, "value": …}.') % sorted(SEGMENT_RULE_KINDS)
            )
        kind, value = rule["kind"], rule.get("value")
        if kind == "amount_at_least":
            # An amount as invoices have them: not negative, not infinite, at most 12 digits
            # before the decimal point (it is shown as money and compared with amounts).
            try:
                amount = Decimal(str(value))
                if not (amount.is_finite() and 0 <= amount < Decimal("1e12")):
                    raise ValueError
            except (ArithmeticError, ValueError) as exc:
                raise serializers.ValidationError(_("value must be a positive amount.")) from exc
        elif kind == "behaviour" and value not in BEHAVIOURS:
            raise serializers.ValidationError(_("value must be one of %s.") % sorted(BEHAVIOURS))
        elif kind == "tag" and not (isinstance(value, str) and value and "\x00" not in value):
            raise serializers.ValidationError(_("value must be a tag."))
        # Only what the rules read is kept: anything else is noise (and a NUL in it is refused
        # by PostgreSQL's jsonb).
        return {"kind": kind} if kind == "manual" else {"kind": kind, "value": value}

    def validate_name(self, name):
        others = Segment.objects.filter(name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(_("Another segment has this name."))
        return name


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

    def perform_create(self, serializer):
        serializer.save(tenant=self.tenant)
