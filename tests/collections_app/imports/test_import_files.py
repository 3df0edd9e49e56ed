"""Files as they come, good or hostile: an XLSX number cell is the number it holds (never read
with the column's text symbols), and an untrusted file cannot take the web process down — far
cells, zip bombs, too many rows, cells over the csv module's limit, old Mac line endings."""

import csv
import io
import re
import time
import zipfile
from decimal import Decimal

import pytest
from django_scopes import scope
from openpyxl import Workbook

from collections_app.imports import spreadsheets
from collections_app.imports.column_formats import column_profile, number_locale
from collections_app.imports.importer import (
    ImportFileError,
    ImportResult,
    RowError,
    errors_csv,
    guess_mapping,
    invoices_import,
    read_table,
    row_check,
)
from collections_app.imports.jobs import import_job_create, preview
from collections_app.imports.spreadsheets import Number
from collections_app.models import Invoice

pytestmark = pytest.mark.django_db

HEADER = ["Código", "Código cliente", "Cliente", "Valor", "Emissão", "Vencimento"]


def xlsx(*rows, far_cell: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    if far_cell:
        sheet[far_cell] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# XLSX numbers ------------------------------------------------------------------------------


def test_an_xlsx_number_cell_is_exact_and_kept_out_of_the_columns_symbols():
    headers, rows = read_table("a.xlsx", xlsx(HEADER, ["F-1", "C-1", "Ana", 102.345, "", ""]))
    cell = rows[0][3]
    assert isinstance(cell, Number) and cell == "102.345" and cell.value == Decimal("102.345")
    profile = column_profile([cell, Number.of(1234.5), Number.of(0.1)])
    assert profile["numbers"] == {}  # read as what it is, not as 102.345,00 in pt-BR


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1234.5, "1234.50"), (99.9, "99.90"), (250, "250.00"), (1.234, None), (102.345, None)],
)
def test_xlsx_amounts_import_as_the_number_and_three_decimals_are_refused_by_value(
    tenant_a, value, expected
):
    content = xlsx(HEADER, ["F-1", "C-1", "Ana", value, "2026-11-01", "2026-12-01"])
    headers, rows = read_table("a.xlsx", content)
    with scope(tenant=tenant_a):
        result = invoices_import(
            tenant=tenant_a, headers=headers, rows=rows, mapping=guess_mapping(headers)
        )
        if expected is None:
            assert not result.written
            (error,) = result.errors
            assert error.field == "amount"
            assert f"“{rows[0][3]}” tem mais de duas casas decimais" in error.message
            assert Invoice.objects.count() == 0
        else:
            assert result.errors == []
            assert Invoice.objects.get().amount == Decimal(expected)


def test_the_mapping_preview_reads_xlsx_numbers_as_the_import_does(tenant_a):
    content = xlsx(
        HEADER,
        ["F-1", "C-1", "Ana", 102.345, "2026-11-01", "2026-12-01"],
        ["F-2", "C-1", "Ana", 1234.5, "2026-11-01", "2026-12-01"],
    )
    with scope(tenant=tenant_a):
        job = import_job_create(tenant=tenant_a, filename="a.xlsx", content=content)
        job.refresh_from_db()  # the sample as the database keeps it (JSON)
        first, second = preview(job, job.mapping)
    amount = {c["field"]: c for c in first["cells"]}["amount"]
    assert "mais de duas casas decimais" in amount["error"]
    assert {c["field"]: c for c in second["cells"]}["amount"]["value"] == Decimal("1234.5")


def test_text_amounts_still_follow_their_columns_symbols():
    profile = column_profile(["1.234,50", "102.345"])
    assert number_locale(profile) == "pt_BR"
    item, errors = row_check(["102.345"], {"amount": 0})
    assert item["amount"] == Decimal("102345")


# Hostile files -----------------------------------------------------------------------------


def test_an_xlsx_with_one_far_cell_reads_fast_and_right():
    content = xlsx(
        HEADER,
        ["F-1", "C-1", "Ana", 10.5, "2026-11-01", "2026-12-01"],
        far_cell="XFD300000",
    )
    started = time.monotonic()
    headers, rows = read_table("a.xlsx", content)
    assert time.monotonic() - started < 5
    assert headers == HEADER
    assert rows == [["F-1", "C-1", "Ana", "10.5", "2026-11-01", "2026-12-01"]]


def test_an_xlsx_whose_dimension_claims_the_whole_sheet_reads_only_its_cells():
    content = xlsx(HEADER, ["F-1", "C-1", "Ana", 10.5, "2026-11-01", "2026-12-01"])
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD3000"', data)
                assert b"XFD3000" in data
            target.writestr(member, data)
    started = time.monotonic()
    headers, rows = read_table("a.xlsx", out.getvalue())
    assert time.monotonic() - started < 2 and len(headers) == 6 and len(rows) == 1


def test_an_xlsx_that_unpacks_too_large_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_UNPACKED", 50_000)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/sharedStrings.xml", b"<sst>" + b"a" * 100_000 + b"</sst>")
    with pytest.raises(ImportFileError, match="descompactado passa de"):
        read_table("a.xlsx", out.getvalue())


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_reading_stops_at_one_row_too_many(monkeypatch, kind):
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 3)
    rows = [[f"F-{n}", "1"] for n in range(50)]

    def content(rows):
        if kind == "csv":
            return "\n".join(";".join(r) for r in [["a", "b"], *rows]).encode()
        return xlsx(["a", "b"], *rows)

    with pytest.raises(ImportFileError, match="No máximo 3 linhas"):
        read_table(f"a.{kind}", content(rows))
    assert len(read_table(f"a.{kind}", content(rows[:3]))[1]) == 3


def test_a_csv_with_old_mac_line_endings_imports(tenant_a):
    text = "Código;Código cliente;Cliente;Valor;Emissão;Vencimento\r"
    text += "F-1;C-1;Ana;10,50;15/11/2026;15/12/2026\rF-2;C-1;Ana;20,00;15/11/2026;15/12/2026\r"
    headers, rows = read_table("a.csv", text.encode())
    assert headers == HEADER and len(rows) == 2
    with scope(tenant=tenant_a):
        result = invoices_import(
            tenant=tenant_a, headers=headers, rows=rows, mapping=guess_mapping(headers)
        )
    assert result.errors == [] and result.imported == 2


def test_a_sep_line_with_old_mac_line_endings_is_honoured():
    headers, rows = read_table("a.csv", b"sep=,\rA;B,C\r1;2,3\r")
    assert headers == ["A;B", "C"] and rows == [["1;2", "3"]]


def test_a_cell_over_the_csv_limit_is_a_clear_error():
    content = b"a;b\n1;" + b"x" * 200_000 + b"\n"
    with pytest.raises(ImportFileError, match="maior que 128 KB"):
        read_table("a.csv", content)


def test_a_quote_left_open_is_a_file_error_not_a_crash():
    content = b'a;b\n1;"x\n2;3\n'
    # An open quote runs to the end of the file: one row, not an exception.
    headers, rows = read_table("a.csv", content)
    assert headers == ["a", "b"] and len(rows) == 1


def test_the_error_report_neutralises_a_formula_in_a_header():

    headers = ['=HYPERLINK("http://evil.example","x")', "Valor"]
    result = ImportResult(total=1, errors=[RowError(2, "amount", "Obrigatório.")])
    report = "".join(errors_csv(result, headers, [["=1+1", ""]]))
    header, row = csv.reader(io.StringIO(report), delimiter=";")
    assert header[1] == "'" + headers[0] and row[1] == "'=1+1"
