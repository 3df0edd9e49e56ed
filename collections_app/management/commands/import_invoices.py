import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from collections_app.importer import (
    FIELDS,
    ImportFileError,
    errors_csv,
    guess_mapping,
    invoices_import,
    read_table,
)
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
            help='JSON {"field": "Column header", …}; default: guessed from the headers',
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
        try:
            headers, rows = read_table(path.name, path.read_bytes())
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        mapping = guess_mapping(headers)
        if opts["mapping"]:
            try:
                named = json.loads(opts["mapping"])
                mapping = {field: headers.index(column) for field, column in named.items()}
            except (ValueError, AttributeError) as exc:
                raise CommandError(f"--mapping: {exc}") from exc
            unknown = set(mapping) - set(FIELDS)
            if unknown:
                raise CommandError(f"--mapping: unknown fields {sorted(unknown)}")
        self.stderr.write(
            "Mapping: " + ", ".join(f"{field} ← {headers[i]!r}" for field, i in mapping.items())
        )
        try:
            with scope(tenant=tenant):
                result = invoices_import(
                    tenant=tenant,
                    headers=headers,
                    rows=rows,
                    mapping=mapping,
                    valid_only=opts["valid_only"],
                    progress=self._progress,
                )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        sys.stderr.write("\n")
        if result.errors and opts["errors"]:
            Path(opts["errors"]).write_text("".join(errors_csv(result, headers, rows)))
        for error in result.errors[:20]:
            self.stderr.write(f"row {error.row}, {error.field}: {error.message}")
        summary = {
            "rows": result.total,
            "imported": result.imported,
            "created": result.created,
            "updated": result.updated,
            "rows_with_errors": result.rows_with_errors,
            "written": result.written,
        }
        self.stdout.write(json.dumps(summary))
        if result.errors and not result.written:
            raise CommandError(
                f"{result.rows_with_errors} row(s) with errors: nothing was imported "
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
