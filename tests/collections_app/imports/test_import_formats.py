"""Spreadsheets as finance teams really export them: encodings (UTF-8 with or without BOM,
UTF-16, Windows-1252), separators, dates read the way the whole column writes them (never
guessed when a column is ambiguous), amounts with the column's number symbols, headers in
Portuguese or English, camelCase or not — and the real-world-shaped files under
tests/fixtures/spreadsheets/, each imported and checked cell by cell."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django_scopes import scope

from collections_app.imports.column_formats import (
    DMY,
    MDY,
    YMD,
    DateOrderError,
    column_order,
    column_profile,
    detected_order,
    is_ambiguous,
    number_locale,
    read_date,
)
from collections_app.imports.importer import (
    ImportFileError,
    guess_mapping,
    invoices_import,
    mapping_problems,
    read_rules,
    read_table,
    row_check,
)
from collections_app.models import Customer, Invoice, Payment
from tests import paths

pytestmark = pytest.mark.django_db

FIXTURES = paths.FIXTURES / "spreadsheets"


def named(headers: list[str], mapping: dict[str, int]) -> dict[str, str]:
    return {name: headers[index] for name, index in mapping.items()}


# Dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "order"),
    [
        (["26/01/2013", "03/04/2013"], DMY),  # 26 can only be a day
        (["1/26/2013", "3/4/2013"], MDY),  # 26 can only be a day, in second place
        (["2/1/2013", "1/26/2013", "12/12/2013"], MDY),  # the whole column decides
        (["26-01-13", "05-02-13"], DMY),  # dd-mm-aa
        (["2013-01-26", "45321"], DMY),  # ISO and Excel day numbers need no order
        (["05/05/2013", "12/12/2013"], DMY),  # day = month: both readings agree
    ],
)
def test_a_date_columns_order_comes_from_the_whole_column(values, order):
    profile = column_profile(values)
    assert not is_ambiguous(profile)
    assert column_order(profile, "auto") == order


def test_a_column_whose_every_date_fits_both_readings_is_ambiguous_and_never_guessed():
    profile = column_profile(["03/04/2013", "01/02/2013", "05/05/2013", "2013-01-26"])
    assert is_ambiguous(profile) and detected_order(profile) is None
    assert column_order(profile, "auto") is None  # the user has to choose…
    assert column_order(profile, MDY) == MDY  # …and the choice is obeyed
    assert profile["examples"]["both"] == "01/02/2013"


def test_a_us_date_is_read_month_first_and_babels_own_swap_is_kept_out():
    assert read_date("1/26/2013", MDY) == date(2013, 1, 26)
    assert read_date("3/4/2013", MDY) == date(2013, 3, 4)
    assert read_date("3/4/2013", DMY) == date(2013, 4, 3)
    # Babel alone would swap day and month here; in a day-first column it is an error.
    with pytest.raises(DateOrderError):
        read_date("1/26/2013", DMY)
    with pytest.raises(ValueError):
        read_date("31/02/2026", DMY)


@pytest.mark.parametrize(
    ("raw", "order", "day"),
    [
        ("26-01-13", DMY, date(2013, 1, 26)),
        ("26.01.2013", DMY, date(2013, 1, 26)),
        ("13-01-26", YMD, date(2013, 1, 26)),
        ("2013-01-26", MDY, date(2013, 1, 26)),
        ("2013/01/26", DMY, date(2013, 1, 26)),
        ("2026-11-03T00:00:00", DMY, date(2026, 11, 3)),
        ("26/01/2013 14:30", DMY, date(2013, 1, 26)),
        ("45321", DMY, date(2024, 1, 30)),  # an Excel day number
        ("20130126", MDY, date(2013, 1, 26)),  # ISO's basic form (SAP)
        ("45321.5", MDY, date(2024, 1, 30)),
        ("1/26/2013 12:00:00 AM", MDY, date(2013, 1, 26)),  # a US export's 12-hour time
        ("31/12/99", DMY, date(1999, 12, 31)),  # two-digit years: 69–99 are the 1900s
        ("01/02/68", DMY, date(2068, 2, 1)),
        ("29/02/00", DMY, date(2000, 2, 29)),
    ],
)
def test_date_forms_finance_teams_export(raw, order, day):
    assert read_date(raw, order) == day


@pytest.mark.parametrize(
    ("timezone", "day"),
    [("America/Sao_Paulo", date(2026, 11, 30)), ("UTC", date(2026, 12, 1))],
)
def test_a_timestamp_with_an_offset_is_dated_where_the_tenant_is(timezone, day):
    # 01:30 UTC on 1 December is 22:30 on 30 November in São Paulo.
    assert read_date("2026-12-01T01:30:00Z", DMY, timezone) == day
    assert read_date("2026-12-01T01:30:00+00:00", MDY, timezone) == day


def test_an_imported_paid_timestamp_is_dated_in_the_tenants_timezone(tenant_a):
    rules = read_rules(PAID_MAPPING, profiles=None, timezone="America/Sao_Paulo")
    item, errors = row_check(
        ["NF-9", "100,00", "01/11/2026", "20/11/2026", "C-9", "2026-12-01T01:30:00Z"],
        PAID_MAPPING,
        rules,
    )
    assert errors == [] and item["paid_date"] == date(2026, 11, 30)


@pytest.mark.parametrize(
    ("raw", "order"),
    [("1/2/26", YMD), ("05/05/0026", DMY), ("05/05/2201", DMY), ("2026-13-01", DMY)],
)
def test_a_date_outside_sane_years_or_months_is_refused(raw, order):
    with pytest.raises(ValueError):
        read_date(raw, order)


PAID_MAPPING = {
    "external_id": 0,
    "amount": 1,
    "issue_date": 2,
    "due_date": 3,
    "customer_external_id": 4,
    "customer_name": 4,
    "paid_date": 5,
}


# Numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "locale"),
    [
        (["1.234,56", "99,90", "12"], "pt_BR"),
        (["1,234.56", "99.90", "12"], "en_US"),
        (["55.94", "94", "61.74"], "en_US"),  # IBM's amounts
        (["1.234", "2.500"], "pt_BR"),  # a group of three digits: thousands, not decimals
        (["1,234", "2,500"], "en_US"),
        (["100", "250"], "pt_BR"),  # nothing says: pt-BR, and both read alike
    ],
)
def test_a_number_columns_symbols_come_from_the_whole_column(values, locale):
    assert number_locale(column_profile(values)) == locale


# Headers ----------------------------------------------------------------------------------


def test_english_camelcase_headers_are_recognised_and_one_column_feeds_two_fields():
    headers = [
        "countryCode",
        "customerID",
        "PaperlessDate",
        "invoiceNumber",
        "InvoiceDate",
        "DueDate",
        "InvoiceAmount",
        "Disputed",
        "SettledDate",
    ]
    assert named(headers, guess_mapping(headers)) == {
        # No invoice id: the number is the id too; no customer names: the code is the name.
        "external_id": "invoiceNumber",
        "number": "invoiceNumber",
        "customer_external_id": "customerID",
        "customer_name": "customerID",
        "issue_date": "InvoiceDate",
        "due_date": "DueDate",
        "amount": "InvoiceAmount",
        "disputed": "Disputed",
        "paid_date": "SettledDate",
    }


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("PaidDate", "paid_date"),
        ("Data de pagamento", "paid_date"),
        ("DATA_PAGAMENTO", "paid_date"),
        ("Valor Pago", "paid_amount"),
        ("Contestada", "disputed"),
        ("Status", "disputed"),
        ("Nº Fatura", "number"),
        ("CustomerName", "customer_name"),
        ("Data de Vencimento", "due_date"),
        ("WhatsApp", "customer_whatsapp"),
    ],
)
def test_headers_in_portuguese_and_english(header, field):
    assert guess_mapping([header, "x"]).get(field) == 0


def test_fields_that_clash_on_one_column_are_named():
    problems = mapping_problems(
        {"amount": 0, "due_date": 0, "number": 0}, headers=["Valor", "Outra"]
    )
    assert "“Valor” e “Vencimento” não podem vir da mesma coluna (“Valor”)." in problems


# Files ------------------------------------------------------------------------------------


def test_utf8_with_or_without_bom_utf16_and_windows_1252_read_alike():
    text = "Código;Razão Social;Valor\r\nF-1;Conceição – Ótica;1.234,50\r\n"
    expected = (["Código", "Razão Social", "Valor"], [["F-1", "Conceição – Ótica", "1.234,50"]])
    assert read_table("a.csv", text.encode("utf-8")) == expected
    assert read_table("a.csv", "\ufeff".encode() + text.encode("utf-8")) == expected
    assert read_table("a.csv", text.encode("cp1252")) == expected  # Excel, Brazilian Windows
    tabbed = text.replace(";", "\t")
    headers, rows = read_table("a.txt", tabbed.encode("utf-16"))  # Excel's "Unicode text"
    assert (headers, rows) == expected


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_the_separator_is_the_one_that_splits_every_line_alike(delimiter):
    # Decimal commas in a ;-separated file must not pass for a comma separator.
    lines = ["Código;Valor;Cliente", "F-1;1.234,50;Ana", "F-2;99,90;Bia, Lima e Cia"]
    if delimiter != ";":
        lines = [line.replace(",", ".").replace(";", delimiter) for line in lines]
    headers, rows = read_table("a.csv", "\n".join(lines).encode())
    assert headers == ["Código", "Valor", "Cliente"] and len(rows) == 2
    assert all(len(row) == 3 for row in rows)


def test_excels_sep_line_is_honoured():
    headers, rows = read_table("a.csv", b"sep=,\nA;B,C\n1;2,3\n")
    assert headers == ["A;B", "C"] and rows == [["1;2", "3"]]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", b"", "O arquivo está vazio"),
        ("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "Excel antigo (.xls)"),
        ("a.csv", b"%PDF-1.7\n...", "Este é um PDF"),
        ("a.csv", b"\x00\x01\x02binary", "não é um arquivo de texto"),
        ("a.csv", b"just one column\nvalue\n", "Só uma coluna foi encontrada"),
        ("a.csv", b";;;\n;;;\n", "O arquivo está vazio"),
        ("a.xlsx", b"PK\x03\x04broken", "não é um arquivo XLSX legível"),
    ],
)
def test_a_file_that_is_not_a_table_gets_a_clear_error(name, content, message):
    with pytest.raises(ImportFileError, match=re.escape(message)):
        read_table(name, content)


# The fixture files, cell by cell ------------------------------------------------------------


def import_fixture(tenant, name: str, mapping: dict[str, str] | None = None, **options):
    headers, rows = read_table(name, (FIXTURES / name).read_bytes())
    chosen = guess_mapping(headers)
    if mapping:
        chosen.update({field: headers.index(header) for field, header in mapping.items()})
    with scope(tenant=tenant):
        return invoices_import(
            tenant=tenant, headers=headers, rows=rows, mapping=chosen, **options
        ), named(headers, chosen)


def invoices(tenant) -> dict[str, Invoice]:
    with scope(tenant=tenant):
        return {i.external_id: i for i in Invoice.objects.select_related("customer")}


@pytest.mark.clock("2026-12-02T12:00-03:00")
def test_excels_brazilian_csv_windows_1252_semicolons_and_decimal_commas(tenant_a):
    result, mapping = import_fixture(tenant_a, "excel-ptbr-windows1252.csv")
    assert result.errors == [] and (result.imported, result.payments) == (4, 2)
    assert mapping["paid_date"] == "Data de pagamento" and mapping["disputed"] == "Contestada"
    got = invoices(tenant_a)
    first, second, third = got["FAT-2025-0101"], got["FAT-2025-0102"], got["FAT-2025-0103"]
    assert first.description == "Mensalidade – março"  # the en dash only cp1252 has
    assert first.customer.name == "João da Conceição"
    assert (first.amount, first.issue_date, first.due_date) == (
        Decimal("1234.56"),
        date(2025, 3, 1),
        date(2025, 3, 15),
    )
    assert (first.status, first.paid_on) == ("paid", date(2025, 3, 14))
    assert first.amount_paid == first.amount
    assert second.amount == Decimal("12345678.90") and second.disputed
    assert second.customer.document == "11222333000181"
    assert second.customer.name == "Ótica São José Ltda"
    # A partial payment: the amount paid, and the invoice still open.
    assert (third.status, third.amount_paid, third.paid_on) == ("open", Decimal("50.00"), None)
    assert got["FAT-2025-0104"].amount == Decimal("2500.00")


@pytest.mark.clock("2026-12-02T12:00-03:00")
def test_utf8_with_bom_english_headers_us_numbers_and_iso_dates(tenant_a):
    result, mapping = import_fixture(tenant_a, "utf8-bom-english.csv")
    assert result.errors == [] and (result.imported, result.payments) == (3, 2)
    assert mapping["external_id"] == "Invoice Number" and mapping["paid_amount"] == "Paid Amount"
    got = invoices(tenant_a)
    assert got["INV-9001"].amount == Decimal("1234.50")
    assert got["INV-9001"].customer.name == "Smith & Sons, LLC"
    assert (got["INV-9001"].paid_on, got["INV-9001"].days_late) == (date(2025, 7, 3), 2)
    assert got["INV-9002"].customer.name == "Zoë Müller" and got["INV-9002"].disputed
    assert got["INV-9003"].amount == Decimal("12000.00")
    assert got["INV-9003"].amount_paid == Decimal("5000.00")
    assert got["INV-9003"].status == "open"


def test_a_tab_separated_file_with_a_status_column(tenant_a):
    # No customer code: the CNPJ column is chosen for it too (and stays the document).
    result, mapping = import_fixture(
        tenant_a, "tab-separated.txt", mapping={"customer_external_id": "CNPJ"}
    )
    assert mapping["number"] == mapping["external_id"] == "Nº Fatura"
    assert mapping["disputed"] == "Status"
    assert result.errors == [] and result.imported == 3
    got = invoices(tenant_a)
    assert got["3001"].due_date == date(2025, 9, 30) and got["3001"].issue_date == date(2025, 9, 1)
    assert got["3002"].amount == Decimal("1750.50") and got["3002"].disputed
    assert got["3003"].amount == Decimal("980") and not got["3003"].disputed
    assert got["3001"].customer == got["3003"].customer
    assert got["3001"].customer.document == "11222333000181"
    assert got["3001"].customer.external_id == "11.222.333/0001-81"


@pytest.mark.clock("2026-12-02T12:00-03:00")
def test_an_xlsx_with_date_cells_and_excel_day_numbers(tenant_a):
    result, _mapping = import_fixture(tenant_a, "excel-date-cells.xlsx")
    assert result.errors == [] and (result.imported, result.payments) == (3, 1)
    got = invoices(tenant_a)
    assert got["X-1"].issue_date == date(2025, 8, 1)  # a date cell
    assert got["X-1"].due_date == date(2025, 8, 31)  # 45900, a day number
    assert got["X-1"].paid_on == date(2025, 8, 30)
    assert got["X-1"].amount == Decimal("250.50")
    assert got["X-1"].customer.document == "01234567890"  # the CPF's lost zero
    assert (got["X-2"].amount, got["X-2"].disputed) == (Decimal("1999.99"), True)
    assert got["X-2"].customer.document == "00123456000149"
    assert got["X-3"].due_date == date(2025, 9, 12)


@pytest.mark.clock("2026-12-02T12:00-03:00")
def test_dd_mm_aa_dates(tenant_a):
    result, mapping = import_fixture(tenant_a, "erp-dd-mm-aa.csv")
    assert mapping["number"] == "titulo" and mapping["customer_external_id"] == "cod_cliente"
    assert result.errors == [] and (result.imported, result.payments) == (3, 1)
    got = invoices(tenant_a)
    assert (got["D-1"].issue_date, got["D-1"].due_date) == (date(2026, 1, 5), date(2026, 1, 20))
    assert got["D-1"].paid_on == date(2026, 1, 19)
    assert got["D-2"].due_date == date(2026, 2, 27) and got["D-3"].amount == Decimal("1020.00")
    with scope(tenant=tenant_a):
        assert Customer.objects.count() == 2 and Payment.objects.count() == 1


# US dates, ambiguity ----------------------------------------------------------------------

HEADER = "Código,Código cliente,Valor,Emissão,Vencimento"


def us_file(*lines: str) -> tuple[list[str], list[list[str]]]:
    return read_table("us.csv", "\n".join([HEADER, *lines]).encode())


def test_a_us_file_is_read_month_first_not_swapped(tenant_a):
    headers, rows = us_file("F-1,Ana,10.00,1/26/2026,2/25/2026", "F-2,Bia,20.00,3/4/2026,4/3/2026")
    with scope(tenant=tenant_a):
        result = invoices_import(
            tenant=tenant_a, headers=headers, rows=rows, mapping=guess_mapping(headers)
        )
        f2 = Invoice.objects.get(external_id="F-2")
    assert result.errors == [] and result.imported == 2
    assert (f2.issue_date, f2.due_date) == (date(2026, 3, 4), date(2026, 4, 3))


def test_an_ambiguous_column_is_refused_by_name_until_its_format_is_chosen(tenant_a):
    headers, rows = us_file("F-1,Ana,10.00,1/2/2026,2/3/2026", "F-2,Bia,20.00,3/4/2026,4/3/2026")
    mapping = guess_mapping(headers)
    with scope(tenant=tenant_a):
        with pytest.raises(ImportFileError) as refused:
            invoices_import(tenant=tenant_a, headers=headers, rows=rows, mapping=mapping)
        assert not Invoice.objects.exists()
        message = str(refused.value)
        assert "Todas as datas de “Emissão” podem ser lidas" in message
        assert "1/2/2026 → 1 de fevereiro de 2026 ou 2 de janeiro de 2026" in message
        assert "“Vencimento”" in message
        invoices_import(
            tenant=tenant_a, headers=headers, rows=rows, mapping=mapping, date_format=MDY
        )
        assert Invoice.objects.get(external_id="F-1").due_date == date(2026, 2, 3)


def test_a_value_that_contradicts_its_column_is_an_error_not_a_guess(tenant_a):
    headers, rows = us_file(
        "F-1,Ana,10.00,1/26/2026,2/25/2026",
        "F-2,Bia,20.00,1/27/2026,2/26/2026",
        "F-3,Caio,30.00,28/1/2026,2/27/2026",  # day first, in a month-first column
    )
    with scope(tenant=tenant_a):
        result = invoices_import(
            tenant=tenant_a, headers=headers, rows=rows, mapping=guess_mapping(headers)
        )
        assert not Invoice.objects.exists()
    assert [(e.row, e.field) for e in result.errors] == [(4, "issue_date")]
    assert "não é uma data no formato desta coluna (mês/dia/ano)" in result.errors[0].message
