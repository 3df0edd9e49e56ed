import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from collections_app.imports.column_formats import DATE_FORMATS
from collections_app.imports.importer import ImportFileError
from collections_app.imports.jobs import (
    import_job_create,
    import_job_run,
    import_job_start,
)
from collections_app.imports.mapping import FIELDS, date_columns, mapping_problems
from collections_app.models import ImportStatus
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Import invoices (and their customers, payments and disputes) from a CSV or XLSX file. "
        "Every row is checked first; with any error nothing is written unless --valid-only is "
        "given. Exits non-zero when nothing was imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument("file")
        parser.add_argument(
            "--mapping",
            help=(
                'JSON {"field": "Column header", …} (one header may feed several fields); '
                "default: the mapping of earlier imports, else guessed from the headers. "
                f"Fields: {', '.join(FIELDS)}"
            ),
        )
        parser.add_argument(
            "--date-format",
            choices=list(DATE_FORMATS),
            default="auto",
            help=(
                "how the dates are written: auto (the default) reads each date column's "
                "format from the whole column and refuses an ambiguous one; dmy, mdy or ymd "
                "read every date column that way"
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
            date_format = opts["date_format"]
            try:
                if opts["mapping"]:
                    mapping = self._mapping(opts["mapping"], job.headers)
            except CommandError:
                job.delete()
                raise
            problems = mapping_problems(
                mapping, headers=job.headers, profiles=job.column_formats, date_format=date_format
            )
            if problems:
                job.delete()
                ambiguous = [
                    c["header"]
                    for c in date_columns(
                        mapping,
                        headers=job.headers,
                        profiles=job.column_formats,
                        date_format=date_format,
                    )
                    if c["order"] is None
                ]
                hint = " (--date-format dmy or mdy)" if ambiguous else ""
                raise CommandError(" ".join(problems) + hint)
            self.stderr.write(
                "Mapping: "
                + ", ".join(f"{field} ← {job.headers[i]!r}" for field, i in mapping.items())
            )
            import_job_start(
                job=job,
                mapping=mapping,
                valid_only=opts["valid_only"],
                date_format=date_format,
                enqueue=False,
            )
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
            "payments": job.payments,
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
        if not job.imported:
            raise CommandError("Nothing was imported: every row has errors.")

    @staticmethod
    def _mapping(text: str, headers: list[str]) -> dict[str, int]:
        """--mapping's {"field": "header"} as field → column index."""
        try:
            named = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"--mapping: not JSON ({exc})") from exc
        if not isinstance(named, dict):
            raise CommandError('--mapping: a JSON object, {"field": "Column header", …}')
        unknown = sorted(set(named) - set(FIELDS))
        if unknown:
            raise CommandError(f"--mapping: unknown fields {unknown}; fields: {', '.join(FIELDS)}")
        missing = sorted({str(c) for c in named.values()} - set(headers))
        if missing:
            raise CommandError(
                f"--mapping: no column {', '.join(map(repr, missing))} in the file; "
                f"its columns: {', '.join(map(repr, headers))}"
            )
        return {field: headers.index(str(column)) for field, column in named.items()}

    @staticmethod
    def _progress(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * done // max(total, 1):3d}%"
        )
        sys.stderr.flush()
