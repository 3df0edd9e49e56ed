"""The day's candidates: (invoice × step) pairs whose step day falls in the evaluation window.

One SQL statement per group of tenants, on SQLite and PostgreSQL alike. The calendar work is
done in Python once per step shape and handed to the database as a small table of
(offset, day kind, effective due date, day the step runs); the database joins it with the
invoices, their customer's ladder (the segment's, else the tenant's default) and its active
steps, and leaves out what the ledger already holds — a step counts as done for an invoice when
a ledger row exists for the same offset and day kind, of whatever ladder, so neither a step
replaced by an edit nor a customer moved to another segment's ladder gets the same day's
contact twice — and, for an invoice not seen by an earlier run, the missed days (DESIGN.md
invariant 5: a first evaluation starts at the ladder's current position).

Rows come back as plain tuples; the few columns a backend returns in its own format (dates
and decimals on SQLite) go through Django's converters, the JSON lists through a memoised
decoder (customers share a handful of distinct values)."""

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from django.db import connection, models

from collections_app.models import (
    Customer,
    Dispatch,
    Invoice,
    InvoiceStatus,
    Ladder,
    LadderStep,
    Segment,
)
from tenants.models import Tenant


class DueInvoice(NamedTuple):
    """An invoice with a step in the window, with what deciding needs of it and its customer."""

    id: int
    tenant_id: int
    customer_id: int
    external_id: str
    status: str
    amount: Decimal
    amount_paid: Decimal
    disputed: bool
    paused_until: date | None
    customer_paused_until: date | None
    preferred_channels: tuple[str, ...]
    opted_out_channels: tuple[str, ...]
    invalid_channels: tuple[str, ...]
    email: str
    phone: str
    whatsapp: str
    behaviour: str

    @property
    def amount_due(self) -> Decimal:
        return max(self.amount - self.amount_paid, 0)


# The selected columns, in DueInvoice order, then the step and its day.
_COLUMNS = (
    (Invoice, "id"),
    (Invoice, "tenant_id"),
    (Invoice, "customer_id"),
    (Invoice, "external_id"),
    (Invoice, "status"),
    (Invoice, "amount"),
    (Invoice, "amount_paid"),
    (Invoice, "disputed"),
    (Invoice, "paused_until"),
    (Customer, "paused_until"),
    (Customer, "preferred_channels"),
    (Customer, "opted_out_channels"),
    (Customer, "invalid_channels"),
    (Customer, "email"),
    (Customer, "phone"),
    (Customer, "whatsapp"),
    (Customer, "behaviour"),
    (LadderStep, "id"),
)
_ALIAS = {Invoice: "i", Customer: "c"}
_JSON_LISTS = (10, 11, 12)
_WIDTH = len(DueInvoice._fields)


@lru_cache(maxsize=4096)
def _json_list(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text) or ()) if text else ()


def _converters() -> list[tuple[int, list, models.Field]]:
    """Django's converters for the columns this backend returns in its own format (none on
    PostgreSQL); JSON columns are decoded apart."""
    found = []
    for position, (model, name) in enumerate(_COLUMNS):
        field = model._meta.get_field(name)
        if isinstance(field, models.JSONField):
            continue
        col = field.cached_col
        convert = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        if convert:
            found.append((position, convert, col))
    return found


def due_rows(
    *, tenant_ids: list[int], slots: list[tuple[int, str, date, date]], today: date
) -> Iterator[tuple[DueInvoice, int, date]]:
    """Yield (invoice, step id, day the step runs) for every invoice of `tenant_ids` that has a
    step not yet in the ledger on one of `slots` — (offset, day kind, effective due date, day
    the step runs) — whatever the invoice's status (the caller reports paid and cancelled
    ones). An open invoice created since its tenant's last evaluation only gets a step that
    runs `today`."""
    if not slots or not tenant_ids:
        return
    sql, params = due_rows_sql(tenant_ids=tenant_ids, slots=slots, today=today)
    converters = _converters()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(5000):
            for row in batch:
                row = list(row)
                for position, convert, col in converters:
                    for converter in convert:
                        row[position] = converter(row[position], col, connection)
                for position in _JSON_LISTS:
                    row[position] = _json_list(row[position])
                yield DueInvoice._make(row[:_WIDTH]), row[_WIDTH], _as_date(row[_WIDTH + 1])


def due_rows_sql(
    *, tenant_ids: list[int], slots: list[tuple[int, str, date, date]], today: date
) -> tuple[str, list]:
    qn = connection.ops.quote_name
    table = {
        m: qn(m._meta.db_table)
        for m in (Invoice, Customer, Tenant, Segment, Ladder, LadderStep, Dispatch)
    }
    as_date = "CAST(%s AS date)" if connection.vendor == "postgresql" else "%s"
    values = ", ".join([f"(%s, %s, {as_date}, {as_date})"] * len(slots))
    params: list = [v.isoformat() if isinstance(v, date) else v for slot in slots for v in slot]
    invoice_columns = _COLUMNS[:-1]
    selected = ", ".join(
        f"{_ALIAS[model]}.{qn(model._meta.get_field(name).column)} AS v{n}"
        for n, (model, name) in enumerate(invoice_columns)
    )
    tenant_list = ", ".join(["%s"] * len(tenant_ids))
    dues = sorted({slot[2] for slot in slots})
    due_list = ", ".join([as_date] * len(dues))
    # The candidates are built first (invoices by tenant and due date, each with its ladder),
    # then matched to that ladder's steps and checked against the ledger: written as one join,
    # the planner may start from the steps and probe the invoices once per step.
    sql = f"""
        WITH m (offset_days, day_kind, due, runs_on) AS (VALUES {values}),
        due AS MATERIALIZED (
            SELECT {selected}, COALESCE(g.ladder_id, d.id) AS ladder_id,
                   m.offset_days, m.day_kind, m.runs_on
            FROM m
            JOIN {table[Invoice]} i ON i.effective_due_date = m.due
            JOIN {table[Customer]} c ON c.id = i.customer_id
            JOIN {table[Tenant]} t ON t.id = i.tenant_id
            LEFT JOIN {table[Segment]} g ON g.id = c.segment_id
            LEFT JOIN {table[Ladder]} d ON d.tenant_id = i.tenant_id AND d.is_default
            WHERE i.tenant_id IN ({tenant_list}) AND i.effective_due_date IN ({due_list})
              AND (i.status <> %s OR m.runs_on = {as_date} OR i.created_at < t.last_evaluated_at)
        )
        SELECT {", ".join(f"due.v{n}" for n in range(len(invoice_columns)))}, s.id, due.runs_on
        FROM due
        JOIN {table[LadderStep]} s ON s.ladder_id = due.ladder_id AND s.active
            AND s.offset_days = due.offset_days AND s.day_kind = due.day_kind
        WHERE NOT EXISTS (
            SELECT 1 FROM {table[Dispatch]} x
            JOIN {table[LadderStep]} xs ON xs.id = x.step_id
            WHERE x.invoice_id = due.v0
              AND xs.offset_days = s.offset_days AND xs.day_kind = s.day_kind
        )
    """
    params += [*tenant_ids, *(d.isoformat() for d in dues), InvoiceStatus.OPEN.value]
    params.append(today.isoformat())
    return sql, params


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
