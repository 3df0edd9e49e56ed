# Import files move from the database to the file storage (the local disk, or S3-compatible
# object storage): a kept file is written there before its column is dropped.

import secrets

import collections_app.models.imports
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import migrations, models


def files_to_storage(apps, schema_editor):
    ImportJob = apps.get_model("collections_app", "ImportJob")
    for job in ImportJob.objects.exclude(content=b"").only("id", "tenant_id", "content").iterator():
        name = default_storage.save(
            f"imports/{job.tenant_id}/{secrets.token_urlsafe(16)}", ContentFile(bytes(job.content))
        )
        ImportJob.objects.filter(pk=job.pk).update(file=name)


def files_to_database(apps, schema_editor):
    ImportJob = apps.get_model("collections_app", "ImportJob")
    for job in ImportJob.objects.exclude(file="").only("id", "file").iterator():
        with default_storage.open(job.file.name, "rb") as kept:
            ImportJob.objects.filter(pk=job.pk).update(content=kept.read())


class Migration(migrations.Migration):

    dependencies = [
        ('collections_app', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='file',
            field=models.FileField(blank=True, max_length=255, upload_to=collections_app.models.imports.import_file_name),
        ),
        migrations.AddField(
            model_name='importjob',
            name='stats_days',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='importjob',
            name='written_through',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(files_to_storage, files_to_database),
        migrations.RemoveField(
            model_name='importjob',
            name='content',
        ),
    ]
