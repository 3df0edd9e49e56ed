"""Updating many rows at once, each with its own values.

Django's `bulk_update` writes `SET f = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END` for
every field: building that costs Python time per field and row, more than the rest of a
1,000-invoice upsert when every field changed. Here each batch is one statement joining the
table to a list of values (`WITH v(…) AS (VALUES …) UPDATE … FROM v`), which PostgreSQL and
SQLite (3.33 and later) both run."""

import sqlite3

from django.db import connection

BATCH = 500


def _supported() -> bool:
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 33)


def values_update(model, objects, field_names: list[str]) -> None:
    """Write `field_names` of `objects` (saved instances of `model`), in batches."""
    objects = list(objects)
    if not objects or not field_names:
        return
    if not _supported():
        model.objects.bulk_update(objects, field_names, batch_size=BATCH)
        return
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    qn = connection.ops.quote_name
    table = qn(meta.db_table)

    def slot(field) -> str:
        # PostgreSQL types a VALUES list from its first row's literals: say each column's
        # type. SQLite needs no type (and would turn a date into a number if told "date").
        if connection.vendor == "postgresql":
            return f"CAST(%s AS {field.db_type(connection)})"
        return "%s"

    row = "(" + ", ".join(slot(f) for f in [meta.pk, *fields]) + ")"
    columns = ", ".join(qn(f.column) for f in fields)
    sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in fields)
    with connection.cursor() as cursor:
        for start in range(0, len(objects), BATCH):
            chunk = objects[start : start + BATCH]
            params = []
            for obj in chunk:
                params.append(meta.pk.get_db_prep_save(obj.pk, connection))
                params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            cursor.execute(
                f"WITH v(regua_pk, {columns}) AS (VALUES {', '.join([row] * len(chunk))}) "
                f"UPDATE {table} SET {sets} FROM v WHERE {table}.{qn(meta.pk.column)} = v.regua_pk",
                params,
            )
