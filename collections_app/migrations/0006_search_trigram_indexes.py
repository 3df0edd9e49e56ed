"""Trigram indexes for the invoice queue's search (PostgreSQL only): "contains" searches on the
invoice number, its external id and the customer's name use an index instead of reading every
invoice of the tenant. Django's `icontains` compares UPPER(column), so the indexes are on it."""

from django.db import migrations

INDEXES = [
    ("invoice_number_trgm", "collections_app_invoice", "number"),
    ("invoice_external_id_trgm", "collections_app_invoice", "external_id"),
    ("customer_name_trgm", "collections_app_customer", "name"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("collections_app", "0005_debtor_side")]

    operations = [migrations.RunPython(create, drop)]
