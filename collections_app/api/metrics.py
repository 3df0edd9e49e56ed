"""The dashboard's figures over a period, and recovery per step, channel and segment."""

from datetime import date, timedelta

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from collections_app.api.fields import parse_day
from collections_app.models import Invoice
from collections_app.stats.selectors import metrics_with_previous, recovery_by_step
from tenants.api_auth import TenantScopedAPIMixin
from tenants.selectors import tenant_today


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
