"""Importing invoices from CSV and XLSX: the mapping guessed from the headers, every row checked
(CPF/CNPJ, phones, e-mails, dates, decimal comma), all or nothing unless the valid rows are
asked for, and the same from the terminal with a progress bar."""

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_scopes import scope, scopes_disabled
from openpyxl import Workbook

from collections_app.imports.importer import (
    errors_csv,
    guess_mapping,
    invoices_import,
    parse_amount,
    parse_day,
    read_table,
)
from collections_app.models import Customer, ImportJob, ImportStatus, Invoice

pytestmark = pytest.mark.django_db

HEADER = "Código;Número;Valor;Emissão;Vencimento;Código cliente;Cliente;CPF/CNPJ;E-mail;Celular"
GOOD = [
    "F-1;NF-1;1.234,50;16/11/2026;16/12/2026;C-1;Maria Souza;529.982.247-25;maria@x.com;"
    "(11) 98765-4321",
    "F-2;NF-2;99,90;2026-11-02;2026-12-02;C-2;Acme Ltda;12.ABC.345/01DE-35;;",
]


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode("utf-8")


def test_the_mapping_is_guessed_from_portuguese_headers():
    headers, rows = read_table("faturas.csv", csv_bytes(*GOOD))
    mapping = guess_mapping(headers)
    assert {name: headers[i] for name, i in mapping.items()} == {
        "external_id": "Código",
        "number": "Número",
        "amount": "Valor",
        "issue_date": "Emissão",
        "due_date": "Vencimento",
        "customer_external_id": "Código cliente",
        "customer_name": "Cliente",
        "customer_document": "CPF/CNPJ",
        "customer_email": "E-mail",
        "customer_phone": "Celular",
    }
    assert len(rows) == 2


@pytest.mark.parametrize(
    ("raw", "locale", "value"),
    [
        ("1.234,50", "pt_BR", "1234.50"),
        ("1234,5", "pt_BR", "1234.5"),
        ("R$ 99,90", "pt_BR", "99.90"),
        ("R$\u00a01.234.567,00", "pt_BR", "1234567.00"),
        ("1.234", "pt_BR", "1234"),
        ("1234.5", "en_US", "1234.5"),
        ("1,234.50", "en_US", "1234.50"),
        ("$ 55.94", "en_US", "55.94"),
    ],
)
def test_amounts_are_read_with_their_columns_number_symbols(raw, locale, value):
    assert parse_amount(raw, locale) == Decimal(value)


@pytest.mark.parametrize(
    ("raw", "locale"), [("1234.50", "pt_BR"), ("1,234.50", "pt_BR"), ("99,90", "en_US")]
)
def test_an_amount_written_unlike_its_column_is_an_error_not_a_guess(raw, locale):
    with pytest.raises(ValueError, match="não é um valor escrito como os desta coluna"):
        parse_amount(raw, locale)


def test_dates_take_brazilian_or_iso_form():
    assert parse_day("05/12/2026") == parse_day("2026-12-05") == date(2026, 12, 5)
    with pytest.raises(ValueError):
        parse_day("31/02/2026")


def test_a_clean_file_imports_customers_and_invoices(tenant_a):
    headers, rows = read_table("f.csv", csv_bytes(*GOOD))
    with scope(tenant=tenant_a):
        result = invoices_import(
            tenant=tenant_a, headers=headers, rows=rows, mapping=guess_mapping(headers)
        )
        maria = Customer.objects.get(external_id="C-1")
        acme = Customer.objects.get(external_id="C-2")
        invoice = Invoice.objects.get(external_id="F-1")
    assert (result.imported, result.created, result.written) == (2, 2, True)
    assert maria.document == "52998224725" and maria.phone == "+5511987654321"
    assert acme.document == "12ABC34501DE35"  # the alphanumeric CNPJ
    assert invoice.amount == Decimal("1234.50") and invoice.due_date == date(2026, 12, 16)


def test_one_bad_row_stops_the_file_unless_the_valid_rows_are_asked_for(tenant_a):
    bad = [
        "F-3;NF-3;abc;01/11/2026;01/12/2026;C-3;Bia;111.111.111-11;not-an-email;123",
        "F-1;NF-1;10,00;01/11/2026;01/12/2026;C-1;Maria;;;",  # repeats F-1
    ]
    headers, rows = read_table("f.csv", csv_bytes(*GOOD, *bad))
    mapping = guess_mapping(headers)
    with scope(tenant=tenant_a):
        refused = invoices_import(tenant=tenant_a, headers=headers, rows=rows, mapping=mapping)
        assert not Invoice.objects.exists() and not Customer.objects.exists()
    fields = {(e.row, e.field) for e in refused.errors}
    assert fields >= {
        (4, "amount"),
        (4, "customer_document"),
        (4, "customer_email"),
        (4, "customer_phone"),
    }
    assert (5, "external_id") in fields and refused.rows_with_errors == 2
    assert not refused.written
    report = "".join(errors_csv(refused, headers, rows))
    assert report.splitlines()[0].startswith("linha;") and "abc" in report
    with scope(tenant=tenant_a):
        partial = invoices_import(
            tenant=tenant_a, headers=headers, rows=rows, mapping=mapping, valid_only=True
        )
        assert set(Invoice.objects.values_list("external_id", flat=True)) == {"F-1", "F-2"}
    assert partial.imported == 2 and partial.written


def test_an_xlsx_file_imports_the_same(tenant_a):

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(";"))
    sheet.append(["F-9", "NF-9", 250.5, date(2026, 11, 3), date(2026, 12, 3), "C-9", "Caio"])
    # Numbers as a spreadsheet keeps them: the CPF 012.345.678-90 lost its leading zero, the
    # CNPJ 00.123.456/0001-49 its two, the phone is a plain number.
    day = date(2026, 11, 3)
    sheet.append(["F-10", 10, 99, day, day, "C-10", "Ana", 1234567890, "", 11987654321])
    sheet.append(["F-11", 11, 99, day, day, "C-11", "Bela Ltda", 123456000149])
    buffer = io.BytesIO()
    book.save(buffer)
    headers, rows = read_table("f.xlsx", buffer.getvalue())
    with scope(tenant=tenant_a):
        result = invoices_import(
            tenant=tenant_a, headers=headers, rows=rows, mapping=guess_mapping(headers)
        )
        invoice = Invoice.objects.get(external_id="F-9")
        ana = Customer.objects.get(external_id="C-10")
        bela = Customer.objects.get(external_id="C-11")
    assert result.imported == 3 and invoice.amount == Decimal("250.50")
    assert invoice.due_date == date(2026, 12, 3)
    assert (ana.document, ana.phone) == ("01234567890", "+5511987654321")
    assert bela.document == "00123456000149"


def test_the_command_imports_with_a_progress_bar_and_refuses_errors(tenant_a, tmp_path, capsys):
    good = tmp_path / "ok.csv"
    good.write_bytes(csv_bytes(*GOOD))
    call_command("import_invoices", tenant_a.slug, str(good))
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["created"] == 2
    assert "100%" in captured.err and "Mapping:" in captured.err
    with scopes_disabled():  # listed with the dashboard's imports
        job = ImportJob.objects.get(tenant=tenant_a)
    assert (job.status, job.created) == (ImportStatus.DONE, 2)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes("F-7;NF-7;abc;21/11/2026;21/12/2026;C-7;Duda;;;"))
    report = tmp_path / "erros.csv"
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_invoices", tenant_a.slug, str(bad), "--errors", str(report))
    assert "abc" in report.read_text()
    mapping = json.dumps({"external_id": "Código", "amount": "Valor"})
    with pytest.raises(CommandError, match="Escolha uma coluna para cada campo obrigatório"):
        call_command("import_invoices", tenant_a.slug, str(good), "--mapping", mapping)


def test_the_command_takes_the_date_format_and_refuses_an_ambiguous_column_by_name(
    tenant_a, tmp_path, capsys
):
    us = tmp_path / "us.csv"
    us.write_bytes(
        b"InvoiceNumber,CustomerID,InvoiceAmount,InvoiceDate,DueDate\n"
        b"0000611365,0379-NEVHP,55.94,1/2/2013,2/1/2013\n"
    )
    with pytest.raises(CommandError) as refused:
        call_command("import_invoices", tenant_a.slug, str(us))
    assert "“InvoiceDate”" in str(refused.value) and "“DueDate”" in str(refused.value)
    assert "--date-format dmy or mdy" in str(refused.value)
    with scopes_disabled():
        assert not ImportJob.objects.exists()  # a refused command leaves no draft behind
    call_command("import_invoices", tenant_a.slug, str(us), "--date-format", "mdy")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["created"] == 1
    with scope(tenant=tenant_a):
        invoice = Invoice.objects.get(external_id="0000611365")
        assert (invoice.issue_date, invoice.due_date) == (date(2013, 1, 2), date(2013, 2, 1))
        assert invoice.customer.name == "0379-NEVHP"  # the code, with no name column
        assert invoice.amount == Decimal("55.94")


def test_the_command_maps_one_header_to_several_fields_and_names_unknown_ones(
    tenant_a, tmp_path, capsys
):
    sheet = tmp_path / "erp.csv"
    sheet.write_bytes(b"Doc;Quem;Quanto;Quando;Vence\nD-1;Loja Sol;10,00;15/11/2026;15/12/2026\n")
    mapping = {
        "external_id": "Doc",
        "number": "Doc",
        "customer_external_id": "Quem",
        "customer_name": "Quem",
        "amount": "Quanto",
        "issue_date": "Quando",
        "due_date": "Vence",
    }
    call_command("import_invoices", tenant_a.slug, str(sheet), "--mapping", json.dumps(mapping))
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["created"] == 1
    with scope(tenant=tenant_a):
        invoice = Invoice.objects.get()
        assert (invoice.number, invoice.customer.external_id) == ("D-1", "Loja Sol")
    with pytest.raises(CommandError, match="no column 'Valor' in the file"):
        call_command(
            "import_invoices", tenant_a.slug, str(sheet), "--mapping", '{"amount": "Valor"}'
        )
    with pytest.raises(CommandError, match="unknown fields"):
        call_command("import_invoices", tenant_a.slug, str(sheet), "--mapping", '{"valor": "Doc"}')


def test_the_command_exits_non_zero_when_nothing_was_imported(tenant_a, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes("F-7;NF-7;abc;21/11/2026;21/12/2026;C-7;Duda;;;"))
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_invoices", tenant_a.slug, str(bad), "--valid-only")
