"""Customers: their serializer, the `customer` field an invoice is written with (an inline
customer or an external_id) and its OpenAPI description, and the viewset."""

from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from collections_app.api.base import TenantViewSet
from collections_app.api.bulk import BulkUpsertMixin, ReusableSerializers
from collections_app.api.fields import (
    DocumentField,
    TenantPrimaryKeyField,
    item_external_id,
    phone_e164,
)
from collections_app.invoices import services
from collections_app.models import Customer, Segment
from messaging.models import Channel


class CustomerSerializer(serializers.ModelSerializer):
    external_id = serializers.CharField(max_length=100)
    document = DocumentField()
    preferred_channels = serializers.ListField(
        child=serializers.ChoiceField(Channel.choices), required=False
    )
    opted_out_channels = serializers.ListField(
        child=serializers.ChoiceField(Channel.choices), required=False
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            *services.CUSTOMER_FIELDS,
            "segment",
            "segment_manual",
            "segment_reason",
            "behaviour",
            "invalid_channels",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "segment_manual",
            "segment_reason",
            "behaviour",
            "invalid_channels",
            "created_at",
        ]

    def get_fields(self):
        fields = super().get_fields()
        # Setting a segment by hand pins the customer there; null hands it back to the rules.
        fields["segment"] = TenantPrimaryKeyField(Segment, allow_null=True, required=False)
        return fields

    def validate_phone(self, value):
        return phone_e164(value)

    def validate_whatsapp(self, value):
        return phone_e164(value)


class InlineCustomerSerializer(CustomerSerializer):
    class Meta(CustomerSerializer.Meta):
        extra_kwargs = {"name": {"required": False}}


class CustomerRefSerializer(serializers.ModelSerializer):
    """How an invoice shows its customer: enough to find it, not the whole record."""

    class Meta:
        model = Customer
        fields = ["id", "external_id", "name"]
        read_only_fields = fields


class CustomerField(serializers.Field):
    """`customer`: an object (upserted by external_id) or an existing customer's external_id."""

    def to_representation(self, value):
        return self.reference.to_representation(value)

    @cached_property
    def reference(self) -> CustomerRefSerializer:
        return CustomerRefSerializer()

    @cached_property
    def inline(self) -> ReusableSerializers:
        return ReusableSerializers(InlineCustomerSerializer)

    def to_internal_value(self, data):
        if isinstance(data, str):
            if "\x00" in data:
                raise serializers.ValidationError(_("Null characters are not allowed."))
            customer = self.existing_customer(data)
            if customer is None:
                raise serializers.ValidationError(_("No customer with external_id %s") % data)
            return customer
        if not isinstance(data, dict):
            raise serializers.ValidationError(_("Give an object or a customer external_id"))
        ext = item_external_id(data)
        existing = self.existing_customer(ext) if ext else None
        named_in_request = ext in self.context.get("named_customers", ())
        partial = existing is not None or named_in_request
        if not partial and not data.get("name"):
            raise serializers.ValidationError({"name": [_("Required for a new customer.")]})
        serializer = self.inline.validate(existing, data, partial=partial)
        if serializer.errors:
            raise serializers.ValidationError(serializer.errors)
        return dict(serializer.validated_data)

    def existing_customer(self, external_id: str) -> Customer | None:
        """The customer with this external_id, from those the view read for the whole request
        (`customers` in the context) when it has it."""
        known = self.context.get("customers", {})
        if external_id in known:
            return known[external_id]
        return Customer.objects.filter(external_id=external_id).first()


class CustomerFieldScheme(OpenApiSerializerFieldExtension):
    """The customer field reads differently from how it is written: a request gives an inline
    customer or an external_id, an answer shows the customer's reference. drf-spectacular
    registers it when this module is imported: it sits beside its field, so it is there
    whenever the field is."""

    target_class = CustomerField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "response":
            return auto_schema.resolve_serializer(CustomerRefSerializer, direction).ref
        inline = auto_schema.resolve_serializer(InlineCustomerSerializer, direction).ref
        external_id = {"type": "string", "description": "an existing customer's external_id"}
        return {"oneOf": [inline, external_id]}


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("external_id", str)]))
class CustomerViewSet(
    BulkUpsertMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantViewSet,
):
    serializer_class = CustomerSerializer
    upsert_service = staticmethod(services.customers_upsert)

    def tenant_queryset(self):
        qs = Customer.objects.order_by("id")
        if ext := self.query_param("external_id"):
            qs = qs.filter(external_id=ext)
        return qs
