"""What an import reports: its result, the first errors kept for its page, and the CSV of
every failing row."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from collections_app.imports.mapping import FIELDS
from collections_app.imports.spreadsheets import row_safe

FIRST_ERRORS = 20  # kept with the job for its page; the CSV report has them all


@dataclass
class RowError:
    row: int  # the spreadsheet's row number (the header is row 1)
    field: str
    message: str


@dataclass
class ImportResult:
    total: int = 0
    imported: int = 0
    created: int = 0
    updated: int = 0
    payments: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def rows_with_errors(self) -> int:
        return len({e.row for e in self.errors})


def first_errors(
    result: ImportResult, rows: list[list[str]], mapping: dict[str, int]
) -> list[dict]:
    """The first errors, for the job's page (the CSV report has them all): {"row", "field",
    "value" (the cell as it was), "message"}."""
    out = []
    for error in result.errors[:FIRST_ERRORS]:
        cells, index = rows[error.row - 2], mapping.get(error.field)
        value = cells[index] if index is not None and index < len(cells) else ""
        out.append(
            {"row": error.row, "field": error.field, "value": value[:100], "message": error.message}
        )
    return out


def errors_csv(result: ImportResult, headers: list[str], rows: list[list[str]]) -> Iterator[str]:
    """The error report: each failing row as it was, with its errors in a last column."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    by_row: dict[int, list[str]] = {}
    for error in result.errors:
        by_row.setdefault(error.row, []).append(f"{FIELDS[error.field][0]}: {error.message}")
    writer.writerow(row_safe(["linha", *headers, "erros"]))
    for row_number in sorted(by_row):
        cells = [row_number, *rows[row_number - 2], " | ".join(by_row[row_number])]
        writer.writerow(row_safe(cells))
    yield out.getvalue()
