"""REST API for explaining and forecasting the ladders (read-only).

`invoices/<id>/explain/` tells why each step of an invoice was sent, skipped or is planned;
`forecast/` counts what the daily evaluation would send over the coming days. Both views are
tenant-scoped like the rest of the API: another tenant's invoice is a 404."""

from datetime import date

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from collections_app.api.fields import parse_day
from collections_app.engine.explain import invoice_explain
from collections_app.engine.forecast import FORECAST_MAX_DAYS, tenant_forecast
from collections_app.models import Invoice
from tenants.api_auth import TenantScopedAPIMixin
from tenants.selectors import tenant_today


class InvoiceExplainView(TenantScopedAPIMixin, APIView):
    @extend_schema(
        operation_id="invoices_explain",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses={200: OpenApiTypes.OBJECT},
        description="Why each step of the invoice's ladder was sent, skipped or is planned.",
    )
    def get(self, request, pk: int):
        # The scope filters by tenant: another tenant's invoice is simply not found.
        invoice = self.get_queryset().filter(pk=pk).first()
        if invoice is None:
            raise Http404
        today = tenant_today(tenant=self.tenant)
        return Response(
            {
                "id": invoice.pk,
                "invoice": invoice.external_id,
                "status": invoice.status,
                "due_date": invoice.due_date,
                "effective_due_date": invoice.effective_due_date,
                "today": today,
                "steps": invoice_explain(tenant=self.tenant, invoice=invoice, today=today),
            }
        )

    def tenant_queryset(self):
        return Invoice.objects.select_related("customer")


class ForecastView(TenantScopedAPIMixin, APIView):
    @extend_schema(
        operation_id="forecast",
        parameters=[
            OpenApiParameter("start", date, description="first day (default: today)"),
            OpenApiParameter("days", int, description=f"1–{FORECAST_MAX_DAYS}, default 30"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        description="Sends and tasks the daily evaluation would make per day, segment and "
        "channel if nothing changes (an approximation: no payments foreseen).",
    )
    def get(self, request):
        errors: dict[str, list[str]] = {}
        start = tenant_today(tenant=self.tenant)
        raw_start = request.query_params.get("start")
        if raw_start:
            start = parse_day(raw_start, "start", errors)
        days = 30
        raw_days = request.query_params.get("days")
        if raw_days is not None:
            try:
                days = int(raw_days)
            except ValueError:
                days = 0
            if not 1 <= days <= FORECAST_MAX_DAYS:
                errors["days"] = [
                    _("A whole number from 1 to %(max)d.") % {"max": FORECAST_MAX_DAYS}
                ]
        if errors:
            return Response(errors, status=400)
        return Response(tenant_forecast(tenant=self.tenant, start=start, days=days))

    def tenant_queryset(self):
        return Invoice.objects.none()
