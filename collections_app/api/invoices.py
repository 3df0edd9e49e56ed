"""Invoices (with their payment link) and payments."""

from datetime import date, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from collections_app.api.base import TenantViewSet
from collections_app.api.bulk import BulkUpsertMixin, OneOrManyCreateMixin, ReusableSerializers
from collections_app.api.customers import CustomerField
from collections_app.api.fields import (
    AmountField,
    TenantSlugField,
    date_in_range,
    item_external_id,
)
from collections_app.engine.message_context import payment_url
from collections_app.invoices import services
from collections_app.invoices.disputes import (
    REASON_MAX_LENGTH,
    DisputeError,
    invoice_dispute_close,
    invoice_dispute_open,
)
from collections_app.models import Customer, Invoice, Payment
from collections_app.payments.services import payments_record


class InvoiceSerializer(serializers.ModelSerializer):
    external_id = serializers.CharField(max_length=100)
    customer = CustomerField()
    amount = AmountField()
    payment_url = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "external_id",
            "number",
            "description",
            "customer",
            "amount",
            "amount_paid",
            "currency",
            "issue_date",
            "due_date",
            "effective_due_date",
            "status",
            "paid_at",
            "boleto_line",
            "bank_reference",
            "external_payment_url",
            "disputed",
            "dispute_reason",
            "paused_until",
            "payment_url",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            name: {"validators": [date_in_range]}
            for name in ("issue_date", "due_date", "paused_until")
        }
        read_only_fields = [
            "id",
            "amount_paid",
            "effective_due_date",
            "status",
            "paid_at",
            "dispute_reason",
            "payment_url",
            "created_at",
            "updated_at",
        ]

    def get_payment_url(self, obj) -> str:
        return payment_url(obj)

    def validate(self, attrs):
        issue = attrs.get("issue_date", getattr(self.instance, "issue_date", None))
        due = attrs.get("due_date", getattr(self.instance, "due_date", None))
        if issue and due and due < issue:
            raise serializers.ValidationError({"due_date": [_("Cannot be before issue_date.")]})
        return attrs


# What a client sends; the rest of a payment is Régua's to say (its source, its attribution).
PAYMENT_WRITABLE = frozenset({"invoice", "amount", "paid_at", "external_id"})


class PaymentSerializer(serializers.ModelSerializer):
    invoice = TenantSlugField(Invoice, slug_field="external_id")
    amount = AmountField()
    paid_at = serializers.DateTimeField(required=False)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "amount",
            "paid_at",
            "external_id",
            "source",
            "attributed_message",
            "attributed_via",
            "attributed_step",
            "attributed_channel",
            "attributed_segment",
            "created_at",
        ]
        read_only_fields = [name for name in fields if name not in PAYMENT_WRITABLE]

    def validate_paid_at(self, value):
        if value > timezone.now() + timedelta(minutes=5):
            raise serializers.ValidationError(_("Cannot be in the future."))
        return value

    def validate_invoice(self, invoice):
        if invoice.status in ("cancelled", "written_off"):
            raise serializers.ValidationError(_("Invoice is %s.") % invoice.get_status_display())
        return invoice


class PaymentLinkSerializer(serializers.Serializer):
    reissue = serializers.BooleanField(
        default=True, help_text="true: a new link replaces the old one; false: no link at all"
    )


class DisputeSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH, help_text="why the customer disputes the invoice"
    )


class InvoiceViewSet(
    BulkUpsertMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantViewSet,
):
    serializer_class = InvoiceSerializer
    upsert_service = staticmethod(services.invoices_upsert)

    @cached_property
    def items_context(self) -> dict:
        data = self.request.data
        items = [i for i in (data if isinstance(data, list) else [data]) if isinstance(i, dict)]
        inline = [i["customer"] for i in items if isinstance(i.get("customer"), dict)]
        referred = {item_external_id(c) for c in inline}
        referred.update(i["customer"] for i in items if isinstance(i.get("customer"), str))
        # A NUL never reaches the database (PostgreSQL refuses it even in a lookup).
        referred = {ext for ext in referred if ext is not None and "\x00" not in ext}
        customers = dict.fromkeys(referred)
        if referred:
            customers.update(
                (c.external_id, c) for c in Customer.objects.filter(external_id__in=referred)
            )
        return {
            # A customer given with its name in one item may be referred to by external_id
            # alone in the others of the same request.
            "named_customers": {item_external_id(c) for c in inline if c.get("name")},
            # The existing customers the items refer to, read in one query (None: no such
            # customer).
            "customers": customers,
        }

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("customer", str, description="customer external_id"),
            OpenApiParameter("due_from", date),
            OpenApiParameter("due_to", date),
            OpenApiParameter("external_id", str),
            OpenApiParameter("segment", int, description="the customer's segment id"),
            OpenApiParameter("disputed", bool, description="true: disputed invoices only"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=PaymentLinkSerializer, responses=InvoiceSerializer)
    @action(detail=True, methods=["post"], url_path="revoke-link")
    def revoke_link(self, request, pk=None):
        """Revoke the invoice's payment link: the old `/p/<token>` stops working at once.
        With `reissue` (the default) the invoice gets a new link; without, it has none until
        reissued."""
        invoice = self.get_object()
        options = PaymentLinkSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        invoice = services.invoice_link_revoke(
            tenant=self.tenant, invoice=invoice, reissue=options.validated_data["reissue"]
        )
        return Response(self.get_serializer(invoice).data)

    @extend_schema(request=DisputeSerializer, responses=InvoiceSerializer)
    @action(detail=True, methods=["post"], url_path="dispute")
    def dispute(self, request, pk=None):
        """Mark the invoice disputed, with why: its reminders stop (those queued are
        cancelled) until the dispute is cleared, and its timeline says so. An invoice already
        disputed is answered as it is. Only an open invoice can be disputed (400)."""
        invoice = self.get_object()
        body = DisputeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            invoice = invoice_dispute_open(
                tenant=self.tenant, invoice=invoice, reason=body.validated_data["reason"]
            )
        except DisputeError as exc:
            raise serializers.ValidationError({"reason": [str(exc)]}) from exc
        return Response(self.get_serializer(invoice).data)

    @extend_schema(request=None, responses={200: InvoiceSerializer})
    @dispute.mapping.delete
    def undispute(self, request, pk=None):
        """Clear the invoice's dispute: the ladder resumes from its next step. An invoice not
        disputed is answered as it is."""
        invoice = invoice_dispute_close(tenant=self.tenant, invoice=self.get_object())
        return Response(self.get_serializer(invoice).data)

    def tenant_queryset(self):
        qs = Invoice.objects.select_related("customer").order_by("id")
        params = self.request.query_params
        if value := self.query_param("status"):
            qs = qs.filter(status=value)
        if (value := params.get("disputed")) is not None:
            if value not in ("true", "false"):
                raise serializers.ValidationError({"disputed": [_("true or false.")]})
            qs = qs.filter(disputed=value == "true")
        if value := self.query_param("customer"):
            qs = qs.filter(customer__external_id=value)
        if value := self.query_param("external_id"):
            qs = qs.filter(external_id=value)
        if value := params.get("segment"):
            # isascii: str.isdigit() also takes "²", which int() refuses; the bound keeps the
            # id within a database integer.
            if not (value.isascii() and value.isdigit() and int(value) < 2**63):
                raise serializers.ValidationError({"segment": [_("A segment id.")]})
            qs = qs.filter(customer__segment_id=int(value))
        for param, lookup in (("due_from", "due_date__gte"), ("due_to", "due_date__lte")):
            if value := params.get(param):
                parsed = parse_date(value) if len(value) == 10 else None
                if parsed is None:
                    raise serializers.ValidationError({param: [_("Use YYYY-MM-DD.")]})
                qs = qs.filter(**{lookup: parsed})
        return qs


class PaymentViewSet(
    OneOrManyCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    TenantViewSet,
):
    serializer_class = PaymentSerializer

    def tenant_queryset(self):
        return Payment.objects.select_related("invoice").order_by("id")

    def validate_items(self, items):
        validated, errors = [], []
        validators = ReusableSerializers(self.get_serializer)
        for item in items:
            serializer = validators.validate(None, item, partial=False)
            if not serializer.errors:
                validated.append(serializer.validated_data)
                errors.append({})
            else:
                errors.append(serializer.errors)
        return validated, errors

    def write_items(self, validated):
        return payments_record(tenant=self.tenant, items=validated)
