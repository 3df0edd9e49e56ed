"""Fast inserts for the daily evaluation's ledger rows, messages and links.

On PostgreSQL the rows go in with COPY, after taking their ids from the table's sequence in one
round trip (so the caller can link rows to each other, as bulk_create allows); elsewhere this is
Django's bulk_create. Model defaults and `auto_now` fields are applied the same way."""

import json
from collections.abc import Callable, Sequence
from operator import attrgetter

from django.db import connection, models


def bulk_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert `objs` (unsaved) and set their primary keys."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=2000)
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    table, pk = meta.db_table, meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, pk, len(objs)],
        )
        for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = new_id
        columns = ", ".join(connection.ops.quote_name(c) for c in [pk, *(f.column for f in fields)])
        with cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
        ) as copy:
            for obj in objs:
                copy.write_row(
                    [obj.pk]
                    + [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
                )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _getter(field: models.Field) -> Callable:
    """The value COPY writes for a field: plain attributes go as they are (psycopg adapts
    dates, decimals and booleans itself); JSON is serialised; auto_now fields are stamped."""
    if isinstance(field, models.JSONField):
        get = attrgetter(field.attname)
        return lambda obj: json.dumps(get(obj))
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.pre_save(obj, True)
    return attrgetter(field.attname)
