"""Agreements (acordos): open invoices replaced by monthly instalments, and breaking one."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from collections_app.api.base import TenantViewSet
from collections_app.api.fields import AmountField, TenantSlugField, date_in_range
from collections_app.models import Agreement, AgreementStatus, Customer, Invoice
from collections_app.payments.agreements import AgreementError, agreement_break, agreement_create
from tenants.selectors import tenant_today


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
    total = AmountField(required=False, write_only=True)
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
