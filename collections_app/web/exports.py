"""The CSV exports of invoices and of the timeline, streamed, for people: in the user's
language (pt-BR by default), with the labels the pages show (never a status, kind or channel
code), dates as dd/mm/aaaa and amounts as 1234,50 separated by ';', as a spreadsheet in
Brazilian Portuguese opens them (UTF-8 with a byte order mark, so the accents survive); in
English, ',' with 1234.50 and yyyy-mm-dd. The API keeps the codes."""

import csv
import itertools
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.http import StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from collections_app.imports.spreadsheets import row_safe
from collections_app.models import Interaction, InteractionKind, Invoice, InvoiceStatus
from collections_app.web.labels import channel_label, interaction_text
from tenants.decorators import tenant_required

# The invoice export's columns: its header and the field it is read from.
EXPORT_INVOICE_COLUMNS = (
    (gettext_lazy("External id"), "external_id"),
    (gettext_lazy("Number"), "number"),
    (gettext_lazy("Customer code"), "customer__external_id"),
    (gettext_lazy("Customer"), "customer__name"),
    (gettext_lazy("Amount"), "amount"),
    (gettext_lazy("Amount paid"), "amount_paid"),
    (gettext_lazy("Currency"), "currency"),
    (gettext_lazy("Issued"), "issue_date"),
    (gettext_lazy("Due date"), "due_date"),
    (gettext_lazy("Effective due date"), "effective_due_date"),
    (gettext_lazy("Status"), "status"),
    (gettext_lazy("Paid on"), "paid_on"),
    (gettext_lazy("Days late"), "days_late"),
)
EXPORT_INTERACTION_HEADER = (
    gettext_lazy("Date and time"),
    gettext_lazy("Customer code"),
    gettext_lazy("Invoice"),
    gettext_lazy("Kind"),
    gettext_lazy("Channel"),
    gettext_lazy("Summary"),
    gettext_lazy("By"),
)


def _portuguese() -> bool:
    return (translation.get_language() or "pt-br").lower().startswith("pt")


def export_cell(value) -> str:
    """A value as the export writes it in the active language: a date dd/mm/aaaa, an amount
    1234,50 (pt-BR; 2026-12-02 and 1234.50 in English), nothing for None."""
    if value is None:
        return ""
    pt = _portuguese()
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M" if pt else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y" if pt else "%Y-%m-%d")
    if isinstance(value, Decimal):
        # No thousands separator: a spreadsheet reads 1234,50 as a number, and a negative
        # amount stays a number to the formula guard (row_safe).
        text = f"{value:.2f}"
        return text.replace(".", ",") if pt else text
    return str(value)


class _Echo:
    def write(self, value):
        return value


def _csv_response(filename: str, header, rows) -> StreamingHttpResponse:
    """Stream `rows` (read lazily) under `header`, in the request's language, whatever the
    language when the server reads the stream."""
    language = translation.get_language() or "pt-br"

    def lines():
        with translation.override(language):
            writer = csv.writer(_Echo(), delimiter=";" if _portuguese() else ",")
            yield "\ufeff"  # the byte order mark: a spreadsheet reads the file as UTF-8
            for row in itertools.chain([[str(h) for h in header]], rows):
                yield writer.writerow(row_safe(row))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _invoice_row(values: tuple) -> list[str]:
    row = dict(zip((field for _h, field in EXPORT_INVOICE_COLUMNS), values, strict=True))
    row["status"] = str(InvoiceStatus(row["status"]).label)
    return [export_cell(row[field]) for _h, field in EXPORT_INVOICE_COLUMNS]


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
    fields = [field for _h, field in EXPORT_INVOICE_COLUMNS]
    rows = (_invoice_row(values) for values in qs.values_list(*fields).iterator(chunk_size=5000))
    header = [h for h, _f in EXPORT_INVOICE_COLUMNS]
    return _csv_response("faturas.csv", header, rows)


def _interaction_row(interaction: Interaction, zone: ZoneInfo) -> list[str]:
    try:
        kind = str(InteractionKind(interaction.kind).label)
    except ValueError:
        kind = interaction.kind
    invoice = interaction.invoice
    return [
        export_cell(timezone.localtime(interaction.occurred_at, zone)),
        interaction.customer.external_id if interaction.customer_id else "",
        (invoice.number or invoice.external_id) if invoice else "",
        kind,
        channel_label(interaction.channel) if interaction.channel else "",
        interaction_text(interaction),
        interaction.actor.email if interaction.actor_id else "",
    ]


@require_GET
@tenant_required("agent")
def export_interactions(request):
    """The timeline as CSV (optionally `from` and `to`, the tenant's dates), streamed."""
    qs = Interaction.objects.select_related("customer", "invoice", "actor").order_by(
        "occurred_at", "id"
    )
    if day := parse_date(request.GET.get("from") or ""):
        qs = qs.filter(occurred_at__date__gte=day)
    if day := parse_date(request.GET.get("to") or ""):
        qs = qs.filter(occurred_at__date__lte=day)
    zone = ZoneInfo(request.tenant.timezone)
    rows = (_interaction_row(i, zone) for i in qs.iterator(chunk_size=2000))
    return _csv_response("interacoes.csv", EXPORT_INTERACTION_HEADER, rows)
