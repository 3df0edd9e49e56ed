"""The CSV exports of invoices and of the timeline, streamed."""

import csv
import itertools

from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET

from collections_app.imports.spreadsheets import row_safe
from collections_app.models import (
    Interaction,
    Invoice,
)
from tenants.decorators import tenant_required

# The invoice export's columns: the field each is read from (the header replaces "__" by "_").
EXPORT_INVOICE_FIELDS = (
    "external_id",
    "number",
    "customer__external_id",
    "customer__name",
    "amount",
    "amount_paid",
    "currency",
    "issue_date",
    "due_date",
    "effective_due_date",
    "status",
    "paid_on",
    "days_late",
)


class _Echo:
    def write(self, value):
        return value


def _csv_response(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row_safe(row)) for row in itertools.chain([header], rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@tenant_required("agent")
def export_invoices(request):
    """The tenant's invoices as CSV (optionally `status`, `due_from`, `due_to`), streamed."""
    qs = Invoice.objects.order_by("id")
    if status := request.GET.get("status"):
        qs = qs.filter(status=status)
    if due_from := parse_date(request.GET.get("due_from") or ""):
        qs = qs.filter(due_date__gte=due_from)
    if due_to := parse_date(request.GET.get("due_to") or ""):
        qs = qs.filter(due_date__lte=due_to)
    rows = (
        ["" if value is None else value for value in row]
        for row in qs.values_list(*EXPORT_INVOICE_FIELDS).iterator(chunk_size=5000)
    )
    header = [name.replace("__", "_") for name in EXPORT_INVOICE_FIELDS]
    return _csv_response("faturas.csv", header, rows)


@require_GET
@tenant_required("agent")
def export_interactions(request):
    """The timeline as CSV (optionally `from` and `to`, the tenant's dates), streamed."""
    qs = Interaction.objects.order_by("occurred_at", "id")
    if day := parse_date(request.GET.get("from") or ""):
        qs = qs.filter(occurred_at__date__gte=day)
    if day := parse_date(request.GET.get("to") or ""):
        qs = qs.filter(occurred_at__date__lte=day)
    rows = qs.values_list(
        "occurred_at",
        "customer__external_id",
        "invoice__external_id",
        "kind",
        "channel",
        "summary",
        "actor__email",
    ).iterator(chunk_size=5000)
    return _csv_response(
        "interacoes.csv",
        ["occurred_at", "customer", "invoice", "kind", "channel", "summary", "actor"],
        ([r[0].isoformat(), *("" if v is None else v for v in r[1:])] for r in rows),
    )
