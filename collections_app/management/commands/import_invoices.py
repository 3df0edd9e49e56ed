import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from collections_app.import_jobs import (
    import_job_create,
    import_job_run,
    import_job_start,
)
from collections_app.importer import FIELDS, ImportFileError, mapping_problems
from collections_app.models import ImportStatus
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Import invoices (and their customers) from a CSV or XLSX file. Every row is checked "
        "first; with any error nothing is written unless --valid-only is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument("file")
        parser.add_argument(
            "--mapping",
            help=(
                'JSON {"field": "Column header", …}; default: the mapping of earlier imports, '
                "else guessed from the headers"
            ),
        )
        parser.add_argument("--valid-only", action="store_true", help="import the valid rows")
        parser.add_argument("--errors", help="write the error report (CSV) to this file")

    def handle(self, *args, **opts):
        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {opts['tenant']!r}")
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}")
        with scope(tenant=tenant):
            # The same job as the dashboard's (listed there with the others), run here.
            try:
                job = import_job_create(
                    tenant=tenant, filename=path.name, content=path.read_bytes()
                )
            except ImportFileError as exc:
                raise CommandError(str(exc)) from exc
            mapping = job.mapping  # remembered from earlier imports, else guessed
            if opts["mapping"]:
                try:
                    named = json.loads(opts["mapping"])
                    mapping = {field: job.headers.index(column) for field, column in named.items()}
                except (ValueError, AttributeError) as exc:
                    raise CommandError(f"--mapping: {exc}") from exc
                unknown = set(mapping) - set(FIELDS)
                if unknown:
                    raise CommandError(f"--mapping: unknown fields {sorted(unknown)}")
            problems = mapping_problems(mapping)
            if problems:
                job.delete()
                raise CommandError(" ".join(problems))
            self.stderr.write(
                "Mapping: "
                + ", ".join(f"{field} ← {job.headers[i]!r}" for field, i in mapping.items())
            )
            import_job_start(job=job, mapping=mapping, valid_only=opts["valid_only"], enqueue=False)
            job = import_job_run(job=job, on_progress=self._progress)
        sys.stderr.write("\n")
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.failure)
        if job.errors_report and opts["errors"]:
            Path(opts["errors"]).write_text(job.errors_report, encoding="utf-8")
        for line in job.errors_report.splitlines()[1:21]:
            self.stderr.write(line)
        summary = {
            "rows": job.rows,
            "imported": job.imported,
            "created": job.created,
            "updated": job.updated,
            "rows_with_errors": job.rows_with_errors,
            "written": job.status == ImportStatus.DONE,
            "import": job.pk,
        }
        self.stdout.write(json.dumps(summary))
        if job.status == ImportStatus.REFUSED:
            raise CommandError(
                f"{job.rows_with_errors} row(s) with errors: nothing was imported "
                "(fix them, or use --valid-only)"
            )

    @staticmethod
    def _progress(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * done // max(total, 1):3d}%"
        )
        sys.stderr.flush()
