"""Fast inserts for the daily evaluation's ledger rows, messages, links and tasks.

Rows are plain tuples of the named fields, never model instances: building and preparing tens
of thousands of instances would cost more than the database spends storing them. Fields not
named get their model default (a callable default is called per row, as Django would).

On PostgreSQL the ids are taken from the table's sequence in one round trip and the rows go in
with a binary COPY; elsewhere Django's bulk_create writes them. Either way the caller gets the
new ids in row order, to link rows to each other."""

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
    constant = [f for f in rest if not (f.has_default() and callable(f.default))]
    per_row = [f for f in rest if f not in constant]
    fixed = tuple(f.pre_save(model(), True) for f in constant)
    columns = [meta.pk, *named, *constant, *per_row]
    quoted = ", ".join(connection.ops.quote_name(f.column) for f in columns)
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, %s))) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = cursor.fetchone()[0]
        # Binary COPY: psycopg encodes each value for its column type (JSON included), with
        # no text to format on our side nor to parse on the server's.
        with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_copy_type(f) for f in columns])
            write = copy.write_row
            if per_row:
                for new_id, row in zip(ids, rows, strict=True):
                    write((new_id, *row, *fixed, *(f.get_default() for f in per_row)))
            else:
                for new_id, row in zip(ids, rows, strict=True):
                    write((new_id, *row, *fixed))
    return ids


def _copy_type(field: models.Field) -> str:
    """The PostgreSQL type name psycopg knows the column by ("varchar(20)" → "varchar")."""
    return field.db_type(connection).split("(")[0].strip()
