"""The migration that moves import files from the database to the file storage keeps every
kept file: each lands in the storage with its bytes, and the row points at it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.tenants.factories import TenantFactory

BEFORE = [("collections_app", "0001_initial")]
AFTER = [("collections_app", "0002_import_files_in_storage")]


@pytest.mark.django_db(transaction=True)
def test_kept_import_files_move_from_the_database_to_the_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tenant = TenantFactory(slug="migrating")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        OldJob = old.get_model("collections_app", "ImportJob")
        kept = OldJob.objects.create(tenant_id=tenant.pk, filename="a.csv", content=b"x;y\n1;2\n")
        written = OldJob.objects.create(tenant_id=tenant.pk, filename="b.csv", content=b"")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(AFTER)
    new = MigrationExecutor(connection).loader.project_state(AFTER).apps
    NewJob = new.get_model("collections_app", "ImportJob")
    moved = NewJob.objects.get(pk=kept.pk)
    assert moved.file.name.startswith(f"imports/{tenant.pk}/")
    assert (tmp_path / moved.file.name).read_bytes() == b"x;y\n1;2\n"
    assert NewJob.objects.get(pk=written.pk).file.name == ""
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / moved.file.name]
