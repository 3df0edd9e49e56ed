"""REST API v1 (DESIGN "Interfaces"). Every view derives from TenantScopedAPIMixin: the API key
opens its tenant's scope, querysets are tenant-filtered, another tenant's object is a 404."""

from datetime import date, timedelta
from decimal import Decimal

import phonenumbers
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from collections_app.api.errors import ApiAutoSchema
from collections_app.documents import document_normalize
from collections_app.engine.ladders import STEP_FIELDS, LadderError, ladder_save
from collections_app.engine.message_context import payment_url
from collections_app.invoices import services
from collections_app.models import (
    Agreement,
    AgreementStatus,
    Customer,
    Interaction,
    Invoice,
    InvoiceMessage,
    Ladder,
    LadderStep,
    Payment,
    Segment,
)
from collections_app.payments.agreements import AgreementError, agreement_break, agreement_create
from collections_app.stats.selectors import metrics_with_previous, recovery_by_step
from messaging.models import Channel, Message
from tenants.api_auth import TenantScopedAPIMixin
from tenants.selectors import tenant_today


class ScopedQuerysetMixin:
    """A related field whose choices are read from the tenant scope when the field is used
    (validating a request), not when the serializer is built — the OpenAPI schema builds
    serializers outside any tenant scope."""

    def __init__(self, model, **kwargs):
        self.scoped_model = model
        super().__init__(queryset=model.objects.none(), **kwargs)

    def get_queryset(self):
        return self.scoped_model.objects.all()


class TenantPrimaryKeyField(ScopedQuerysetMixin, serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        # The items of a list validated by one serializer often name the same few objects (a
        # segment): each is read once.
        key = (type(data), data) if isinstance(data, int | str) else None
        if key in self.found:
            return self.found[key]
        value = super().to_internal_value(data)
        if key is not None:
            self.found[key] = value
        return value

    @cached_property
    def found(self) -> dict:
        return {}


class TenantSlugField(ScopedQuerysetMixin, serializers.SlugRelatedField):
    def to_internal_value(self, data):
        # Looked up as given: a NUL would reach PostgreSQL, which refuses it (a 500).
        if isinstance(data, str) and "\x00" in data:
            raise serializers.ValidationError(_("Null characters are not allowed."))
        return super().to_internal_value(data)


# The dates the API takes: wide enough for any real invoice, narrow enough that the arithmetic
# done on them (ladder offsets, periods and the previous period, instalments, forecasts) stays
# inside Python's calendar.
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2999, 12, 31)


def date_in_range(value: date) -> None:
    if not DATE_MIN <= value <= DATE_MAX:
        raise serializers.ValidationError(_date_range_message())


def _date_range_message() -> str:
    return _("Give a date from %(min)s to %(max)s.") % {
        "min": DATE_MIN.isoformat(),
        "max": DATE_MAX.isoformat(),
    }


def parse_day(value: str, name: str, errors: dict):
    """A query parameter's YYYY-MM-DD date within the API's range, or None with the error added
    to `errors` under `name`."""
    try:
        parsed = parse_date(value)
    except ValueError:
        parsed = None
    if parsed is None:
        errors[name] = [_("Use YYYY-MM-DD.")]
    elif not DATE_MIN <= parsed <= DATE_MAX:
        errors[name] = [_date_range_message()]
        parsed = None
    return parsed


def _external_id(data) -> str | None:
    """The `external_id` an item of a request names, read as its CharField will read it (a
    string, or a number as text); anything else (an object, a list) is left to the serializer
    to refuse, not used as a lookup key."""
    value = data.get("external_id") if isinstance(data, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    # A NUL can't be stored (PostgreSQL refuses it even in a lookup); the field says so.
    return value if isinstance(value, str) and "\x00" not in value else None


def _phone(value: str) -> str:
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, "BR")
    except phonenumbers.NumberParseException as exc:
        raise serializers.ValidationError(_("Invalid phone number: %s") % value) from exc
    if not phonenumbers.is_valid_number(number):
        raise serializers.ValidationError(_("Invalid phone number: %s") % value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class DocumentField(serializers.CharField):
    """A CPF or CNPJ as people type it — with or without its punctuation, an alphanumeric
    CNPJ in any case — checked and kept bare. Normalised before any length rule: a formatted
    CNPJ has 18 characters, the stored one 14."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault(
            "help_text",
            "CPF or CNPJ (the alphanumeric CNPJ included), with or without punctuation; "
            "stored without it, letters in upper case.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value:
            return ""
        try:
            return document_normalize(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ReusableSerializers:
    """Validates the items of a list with one serializer for new objects and one for partial
    updates, instead of one per item: DRF builds a serializer's fields anew for each serializer,
    which for a ModelSerializer costs more than checking an item. Each item goes through
    `is_valid()` as with a serializer of its own, so its validated data and errors are the
    same."""

    def __init__(self, build):
        self.build = build
        self.by_partial = {}

    def validate(self, instance, data, *, partial: bool):
        serializer = self.by_partial.get(partial)
        if serializer is None:
            serializer = self.build(instance, data=data, partial=partial)
            self.by_partial[partial] = serializer
        else:
            serializer.instance, serializer.initial_data = instance, data
            for cached in ("_validated_data", "_errors", "_data"):
                vars(serializer).pop(cached, None)
        serializer.is_valid()
        return serializer


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
        return _phone(value)

    def validate_whatsapp(self, value):
        return _phone(value)


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
        ext = _external_id(data)
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
    customer or an external_id, an answer shows the customer's reference."""

    target_class = CustomerField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "response":
            return auto_schema.resolve_serializer(CustomerRefSerializer, direction).ref
        inline = auto_schema.resolve_serializer(InlineCustomerSerializer, direction).ref
        external_id = {"type": "string", "description": "an existing customer's external_id"}
        return {"oneOf": [inline, external_id]}


class InvoiceSerializer(serializers.ModelSerializer):
    external_id = serializers.CharField(max_length=100)
    customer = CustomerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
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


class PaymentSerializer(serializers.ModelSerializer):
    invoice = TenantSlugField(Invoice, slug_field="external_id")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
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
        read_only_fields = [
            "id",
            "source",
            "attributed_message",
            "attributed_via",
            "attributed_step",
            "attributed_channel",
            "attributed_segment",
            "created_at",
        ]

    def validate_paid_at(self, value):
        if value > timezone.now() + timedelta(minutes=5):
            raise serializers.ValidationError(_("Cannot be in the future."))
        return value

    def validate_invoice(self, invoice):
        if invoice.status in ("cancelled", "written_off"):
            raise serializers.ValidationError(_("Invoice is %s.") % invoice.get_status_display())
        return invoice


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


class TaskSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    invoice = serializers.CharField(
        source="invoice.external_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        from collections_app.models import FollowUpTask

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
        extra_kwargs = {"due_on": {"validators": [date_in_range]}}

    def validate_assignee(self, user):
        tenant = self.context["request"].user.tenant
        if user is not None and not user.memberships.filter(tenant=tenant).exists():
            raise serializers.ValidationError(_("Not a member of this tenant."))
        return user


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


def _one_or_many(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "array", "items": schema, "minItems": 1}]}


class OneOrManySchema(ApiAutoSchema):
    """The collection's `POST` as OneOrManyCreateMixin answers it: one object or a list in,
    the same shape out, 201 when anything was created and 200 when nothing was, and a list's
    400 with one error object per item."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None or self.method != "POST" or self.view.action != "create":
            return operation
        body = operation["requestBody"]["content"]["application/json"]
        body["schema"] = _one_or_many(body["schema"])
        responses = operation["responses"]
        responses["201"]["description"] = "At least one item was created."
        created = responses["201"]["content"]["application/json"]
        created["schema"] = _one_or_many(created["schema"])
        responses["200"] = {
            "content": {"application/json": {"schema": created["schema"]}},
            "description": "Nothing new: every item was already there (and is updated).",
        }
        invalid = responses["400"]["content"]["application/json"]
        invalid["schema"] = _one_or_many(invalid["schema"])
        operation["responses"] = dict(sorted(responses.items()))
        return operation


class OneOrManyCreateMixin:
    """`POST` takes one object or a list. A list is atomic: one invalid item → 400 with the
    errors per item (empty objects for the valid ones) and nothing written. Subclasses give
    `validate_items(items) -> (validated, errors)` and `write_items(validated) -> [(obj,
    created)]`; the answer is 201 when anything was created, else 200."""

    schema = OneOrManySchema()

    def create(self, request, *args, **kwargs):
        many = isinstance(request.data, list)
        items = request.data if many else [request.data]
        if many and not items:
            return Response({"non_field_errors": [_("Empty list.")]}, status=400)
        validated, errors = self.validate_items(items)
        if any(errors):
            return Response(errors if many else errors[0], status=status.HTTP_400_BAD_REQUEST)
        try:
            results = self.write_items(validated)
        except services.PaymentError as exc:
            return Response({"non_field_errors": [str(exc)]}, status=400)
        data = self.get_serializer([obj for obj, _created in results], many=True).data
        any_created = any(created for _obj, created in results)
        code = status.HTTP_201_CREATED if any_created else status.HTTP_200_OK
        return Response(data if many else data[0], status=code)


class BulkUpsertMixin(OneOrManyCreateMixin):
    """Create-or-update by `external_id` through the entity's upsert service."""

    upsert_service = None

    def get_serializer_context(self):
        return {**super().get_serializer_context(), **self.items_context}

    @cached_property
    def items_context(self) -> dict:
        """What the serializers need to know about the request's items as a whole, worked out
        once per request rather than once per item."""
        return {}

    def validate_items(self, items):
        model = self.get_serializer_class().Meta.model
        ext_ids = [_external_id(i) for i in items]
        existing = {o.external_id: o for o in model.objects.filter(external_id__in=ext_ids)}
        validators = ReusableSerializers(self.get_serializer)
        seen, validated, errors = set(), [], []
        for item in items:
            if not isinstance(item, dict):
                errors.append({"non_field_errors": [_("Each item must be an object.")]})
                continue
            instance = existing.get(_external_id(item))
            serializer = validators.validate(instance, item, partial=instance is not None)
            if serializer.errors:
                errors.append(serializer.errors)
                continue
            ext = serializer.validated_data["external_id"]
            if ext in seen:
                errors.append({"external_id": [_("Repeated in this request.")]})
                continue
            seen.add(ext)
            validated.append(serializer.validated_data)
            errors.append({})
        return validated, errors

    def write_items(self, validated):
        return type(self).upsert_service(tenant=self.tenant, items=validated)

    def perform_update(self, serializer):
        # The upsert is keyed by external_id: another one here would write to another object
        # (or create one) instead of the object at this URL.
        data = dict(serializer.validated_data)
        current = serializer.instance.external_id
        if data.setdefault("external_id", current) != current:
            raise serializers.ValidationError(
                {"external_id": [_("Cannot be changed: it identifies this object (%s).") % current]}
            )
        [(obj, _created)] = type(self).upsert_service(tenant=self.tenant, items=[data])
        serializer.instance = obj


class TenantViewSet(TenantScopedAPIMixin, viewsets.GenericViewSet):
    pass


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


class PaymentLinkSerializer(serializers.Serializer):
    reissue = serializers.BooleanField(
        default=True, help_text="true: a new link replaces the old one; false: no link at all"
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
        referred = {_external_id(c) for c in inline}
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
            "named_customers": {_external_id(c) for c in inline if c.get("name")},
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

    def tenant_queryset(self):
        qs = Invoice.objects.select_related("customer").order_by("id")
        params = self.request.query_params
        if value := self.query_param("status"):
            qs = qs.filter(status=value)
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
        return services.payments_record(tenant=self.tenant, items=validated)


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
        from collections_app.models import FollowUpTask

        qs = FollowUpTask.objects.select_related("customer", "invoice").order_by("due_on", "id")
        if value := self.query_param("status"):
            qs = qs.filter(status=value)
        return qs

    def perform_update(self, serializer):
        done = serializer.validated_data.get("status") == "done"
        extra = {"completed_at": timezone.now()} if done else {}
        serializer.save(**extra)


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


class MetricsView(TenantScopedAPIMixin, APIView):
    @extend_schema(
        parameters=[OpenApiParameter("from", date), OpenApiParameter("to", date)],
        responses={200: dict},
    )
    def get(self, request):
        today = tenant_today(tenant=self.tenant)
        date_from, date_to, errors = self.period(request, today)
        if errors:
            return Response(errors, status=400)
        return Response(
            metrics_with_previous(
                tenant=self.tenant, date_from=date_from, date_to=date_to, today=today
            )
        )

    @staticmethod
    def period(request, today):
        """`from` and `to` from the query (the last 30 days by default), and their errors."""
        raw_from, raw_to = request.query_params.get("from"), request.query_params.get("to")
        errors = {}
        date_to = parse_day(raw_to, "to", errors) if raw_to else today
        date_from = parse_day(raw_from, "from", errors) if raw_from else today - timedelta(days=29)
        if not errors and date_from > date_to:
            errors["from"] = [_("Must not be after 'to'.")]
        if not errors and (date_to - date_from).days > 3660:
            errors["to"] = [_("The period may not exceed 10 years.")]
        return date_from, date_to, errors

    def tenant_queryset(self):
        return Invoice.objects.none()


class RecoveryView(MetricsView):
    """Recovery per step, channel and segment: reminders sent in the period, delivered,
    clicked, and the payments attributed to them."""

    @extend_schema(
        parameters=[OpenApiParameter("from", date), OpenApiParameter("to", date)],
        responses={200: dict},
    )
    def get(self, request):
        date_from, date_to, errors = self.period(request, tenant_today(tenant=self.tenant))
        if errors:
            return Response(errors, status=400)
        rows = recovery_by_step(tenant=self.tenant, date_from=date_from, date_to=date_to)
        return Response({"from": date_from, "to": date_to, "results": rows})


class AgreementSerializer(serializers.ModelSerializer):
    """An agreement; on create, `invoices` lists the external ids of the customer's open
    invoices it replaces, and `total` defaults to their amount due with today's charges."""

    customer = TenantSlugField(Customer, slug_field="external_id")
    invoices = serializers.ListField(
        child=serializers.CharField(max_length=100), write_only=True, min_length=1
    )
    original_invoices = serializers.SlugRelatedField(
        slug_field="external_id", many=True, read_only=True
    )
    instalments = serializers.SlugRelatedField(slug_field="external_id", many=True, read_only=True)
    total = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        write_only=True,
    )
    first_due_date = serializers.DateField(validators=[date_in_range])

    class Meta:
        model = Agreement
        fields = [
            "id",
            "customer",
            "invoices",
            "original_invoices",
            "instalment_count",
            "instalments",
            "total",
            "total_amount",
            "first_due_date",
            "grace_days",
            "status",
            "source",
            "created_at",
            "ended_at",
        ]
        read_only_fields = [
            "id",
            "original_invoices",
            "instalments",
            "total_amount",
            "grace_days",
            "status",
            "source",
            "created_at",
            "ended_at",
        ]
        extra_kwargs = {"instalment_count": {"min_value": 1, "max_value": 60}}


class AgreementViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantViewSet
):
    """Agreements (acordos). `POST` replaces open invoices by N monthly instalments;
    `POST agreements/<id>/break/` undoes an active one (the ladder resumes on what is left)."""

    serializer_class = AgreementSerializer

    def tenant_queryset(self):
        return (
            Agreement.objects.select_related("customer")
            .prefetch_related("original_invoices", "instalments")
            .order_by("id")
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        found = {
            inv.external_id: inv for inv in Invoice.objects.filter(external_id__in=data["invoices"])
        }
        unknown = [ext for ext in data["invoices"] if ext not in found]
        if unknown:
            raise serializers.ValidationError({"invoices": [_("Unknown: %s") % ", ".join(unknown)]})
        try:
            agreement = agreement_create(
                tenant=self.tenant,
                customer=data["customer"],
                invoices=list(found.values()),
                instalments=data["instalment_count"],
                first_due_date=data["first_due_date"],
                today=tenant_today(tenant=self.tenant),
                total=data.get("total"),
                source="api",
            )
        except AgreementError as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from exc
        agreement = self.tenant_queryset().get(pk=agreement.pk)
        return Response(self.get_serializer(agreement).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=AgreementSerializer)
    @action(detail=True, methods=["post"], url_path="break")
    def break_(self, request, pk=None):
        agreement = self.get_object()
        if agreement.status != AgreementStatus.ACTIVE:
            raise serializers.ValidationError(
                {"status": [_("Only an active agreement can be broken.")]}
            )
        agreement_break(tenant=self.tenant, agreement=agreement)
        return Response(self.get_serializer(self.tenant_queryset().get(pk=agreement.pk)).data)
