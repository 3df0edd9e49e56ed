"""Spreadsheet import jobs."""

import secrets
import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from tenants.models import Tenant


class ImportStatus(models.TextChoices):
    DRAFT = "draft", _("Choosing the columns")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Imported")
    REFUSED = "refused", _("Nothing imported: rows with errors")
    FAILED = "failed", _("Failed")


def import_file_name(instance: "ImportJob", filename: str) -> str:
    """Where an import's file is kept in the storage: a random name under the tenant's folder
    (the user's own file name stays in `filename`)."""
    return f"imports/{instance.tenant_id}/{secrets.token_urlsafe(16)}"


class ImportJob(models.Model):
    """A spreadsheet of invoices uploaded in the dashboard: its columns are mapped (the mapping
    is remembered for the next file), then a Celery job checks every row and writes them —
    all or nothing, or explicitly only the valid ones. The file is kept until its rows are
    written, so a refused import can be run again with "import the valid rows". The file is
    kept in the file storage (`file`: the local disk, or S3-compatible object storage that
    several machines share). `written_through` is the last file row written by a run cut short
    after some of its chunks committed (on SQLite each chunk commits by itself), and
    `stats_days` the rollup days those chunks touched: the next run resumes from there."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    filename = models.CharField(max_length=200)
    file = models.FileField(upload_to=import_file_name, blank=True, max_length=255)
    headers = models.JSONField(default=list)
    sample = models.JSONField(default=list)  # the first rows, for the mapping preview
    rows = models.PositiveIntegerField(default=0)
    mapping = models.JSONField(default=dict)  # Régua field → column index
    # How the date columns are read: "auto" (each as its values show) or dmy/mdy/ymd.
    date_format = models.CharField(max_length=4, default="auto")
    # Per column, what its values show (`column_formats.column_profile`), read at upload.
    column_formats = models.JSONField(default=list)
    valid_only = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.DRAFT
    )
    imported = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    rows_with_errors = models.PositiveIntegerField(default=0)
    payments = models.PositiveIntegerField(default=0)  # recorded from paid dates
    errors_report = models.TextField(blank=True, default="")
    first_errors = models.JSONField(default=list)  # shown on the page; the report has all
    failure = models.TextField(blank=True, default="")
    written_through = models.PositiveIntegerField(default=0)
    stats_days = models.JSONField(default=list, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.REFUSED, ImportStatus.FAILED)

    @property
    def in_progress(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

    @property
    def valid_rows(self) -> int:
        return self.rows - self.rows_with_errors


def stored_file_forget(field_file) -> None:
    """Delete a deleted row's stored file once the deletion is committed (a rolled-back
    deletion keeps it)."""
    name, storage = field_file.name, field_file.storage
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@receiver(post_delete, sender=ImportJob, dispatch_uid="import_job_file_forget")
def _import_job_file_forget(sender, instance: ImportJob, **kwargs) -> None:
    stored_file_forget(instance.file)
