"""Fast inserts for the daily evaluation's ledger rows, messages, links and tasks.

Rows are plain tuples of the named fields, never model instances: building and preparing tens
of thousands of instances would cost more than the database spends storing them. Fields not
named get their model default (a callable default is called per row, as Django would).

On PostgreSQL the ids are taken from the table's sequence in one round trip and the rows go in
with COPY; elsewhere Django's bulk_create writes them. Either way the caller gets the new ids
in row order, to link rows to each other."""

import json
from collections.abc import Sequence

from django.db import connection, models


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple]
) -> list[int]:
    """Insert `rows` (tuples of the values of `fields`, attnames such as "invoice_id") into
    `model`'s table and return their new primary keys, in order."""
    if not rows:
        return []
    meta = model._meta
    named = [meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        attnames = [f.attname for f in named]
        objs = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs, batch_size=2000)
        return [obj.pk for obj in objs]

    rest = [f for f in meta.concrete_fields if not f.primary_key and f not in named]
    constant, per_row = [], []
    for field in rest:
        if field.has_default() and callable(field.default):
            per_row.append(field)
        else:
            constant.append(field)
    fixed = tuple(_copy_value(f, f.pre_save(model(), True)) for f in constant)
    json_positions = [i for i, f in enumerate(named) if isinstance(f, models.JSONField)]
    table, pk = meta.db_table, meta.pk.column
    columns = [pk, *(f.column for f in named), *(f.column for f in constant)]
    columns += [f.column for f in per_row]
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, %s))) FROM generate_series(1, %s)",
            [table, pk, len(rows)],
        )
        ids = cursor.fetchone()[0]
        sql = f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            write = copy.write_row
            for new_id, row in zip(ids, rows, strict=True):
                if json_positions:
                    row = list(row)
                    for i in json_positions:
                        row[i] = json.dumps(row[i])
                    row = tuple(row)
                if per_row:
                    row = (*row, *fixed, *(_copy_value(f, f.get_default()) for f in per_row))
                else:
                    row = (*row, *fixed)
                write((new_id, *row))
    return ids


def _copy_value(field: models.Field, value):
    """A default as COPY takes it: psycopg adapts dates, decimals and booleans itself."""
    if isinstance(field, models.JSONField):
        return json.dumps(value)
    return value
