"""Real bank files, as banks, open-source boleto libraries and OFX parsers published them
(origins and hand counts in tests/fixtures/bank_files/SOURCES.md): the credits found and their
sum are the ones counted by hand from each file; what is not a payment is listed by code; files
mangled the way real ones get (trimmed lines, CRLF/LF/CR, Latin-1, Windows-1252, UTF-8, an EOF
byte, blank lines, a long header) read the same; a file nothing in which is understood is
refused in pt-BR, and nothing is written."""

from decimal import Decimal

import pytest
from django.utils import translation
from django_scopes import scope

from collections_app.models import BankCredit, BankStatement, Payment
from collections_app.payments.bank_files import (
    BankFileError,
    bank_file_parse,
    bank_file_read,
    not_payments_summary,
)
from collections_app.payments.bank_files.layouts import LAYOUTS_240, LAYOUTS_400
from collections_app.payments.reconciliation import bank_statement_import
from tests import paths

FIXTURES = paths.FIXTURES / "bank_files"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# file → (kind, bank, credits, their sum, not payments per code): counted by hand, see SOURCES.md
REAL_FILES = {
    "cnab400/bb_convenio7.ret": ("cnab400", "001", 1, "25.00", []),
    "cnab400/bb_convenio6.ret": ("cnab400", "001", 0, "0", [("09", 2)]),
    "cnab400/bradesco.ret": ("cnab400", "237", 6, "5.10", [("02", 1)]),
    "cnab400/itau.ret": ("cnab400", "341", 4, "1307.25", []),
    "cnab400/santander.ret": ("cnab400", "033", 51, "2546.22", [("09", 1)]),
    "cnab400/caixa.ret": ("cnab400", "104", 0, "0", [("02", 1)]),
    "cnab400/sicredi.ret": ("cnab400", "748", 1, "5.00", [("28", 1)]),
    "cnab400/sicoob.ret": ("cnab400", "756", 5, "1099.00", []),
    "cnab400/banrisul.ret": ("cnab400", "041", 1, "1450.00", []),
    "cnab400/inter.ret": ("cnab400", "077", 0, "0", [("02", 1)]),
    "cnab400/cresol.ret": ("cnab400", "133", 1, "153.08", [("02", 1), ("03", 1)]),
    "cnab240/bb.ret": ("cnab240", "001", 3, "1846.94", [("02", 1)]),
    "cnab240/itau.ret": ("cnab240", "341", 1, "123.45", []),
    "cnab240/santander.ret": ("cnab240", "033", 1, "11.00", []),
    "cnab240/caixa.ret": ("cnab240", "104", 2, "849.90", []),
    "cnab240/sicredi.crt": ("cnab240", "748", 0, "0", [("02", 1), ("28", 1)]),
    "cnab240/sicoob.ret": ("cnab240", "756", 5, "323.86", []),
    "cnab240/btg.ret": ("cnab240", "208", 1, "800.00", [("02", 1)]),
    "cnab240/cresol.ret": ("cnab240", "133", 1, "150.00", [("03", 1)]),
    "cnab240/banrisul.ret": ("cnab240", "041", 1, "200.00", []),
    "ofx/bb.ofx": ("ofx", "", 1, "239.55", []),
    "ofx/bradesco.ofx": ("ofx", "", 20, "35786.99", [("DEBIT", 23)]),
    "ofx/itau.ofx": ("ofx", "", 1, "7232.33", [("SALDO", 1)]),
    "ofx/santander.ofx": ("ofx", "", 3, "758.19", [("OTHER", 3)]),
    "ofx/nubank.ofx": ("ofx", "", 10, "14439.19", [("DEBIT", 29)]),
    "ofx/sicoob.ofx": ("ofx", "", 18, "17730.19", [("DEBIT", 5)]),
}


@pytest.mark.parametrize("name", REAL_FILES)
def test_a_real_file_gives_the_credits_counted_by_hand(name):
    kind, bank, count, total, not_paid = REAL_FILES[name]
    read = bank_file_read(fixture(name))
    assert (read.kind, read.bank) == (kind, bank)
    assert len(read.credits) == count
    assert sum((c.amount for c in read.credits), Decimal(0)) == Decimal(total)
    assert [(code, n) for code, _description, n in read.not_payments_by_code()] == not_paid
    assert len({c.key for c in read.credits}) == count  # each credit its own identity
    assert bank_file_parse(fixture(name)) == (kind, read.credits)  # the public API agrees


def test_the_real_files_cover_eleven_banks_eight_of_them_in_both_layouts_and_six_ofx():
    banks = {"cnab400": set(), "cnab240": set(), "ofx": set()}
    for name, (kind, bank, _count, _total, _not_paid) in REAL_FILES.items():
        banks[kind].add(bank or name)
    both = banks["cnab400"] & banks["cnab240"]
    assert both == {"001", "341", "033", "104", "748", "756", "133", "041"}
    assert banks["cnab400"] | banks["cnab240"] == both | {"237", "077", "208"}
    assert len(banks["ofx"]) == 6


def test_the_fields_land_where_each_bank_puts_them():
    bradesco = bank_file_read(fixture("cnab400/bradesco.ret")).credits
    assert [c.reference for c in bradesco[:2]] == ["97", "186"]  # 71-82, with the DV
    assert str(bradesco[0].credited_on) == "2012-04-13"  # the credit date, 296-301
    sicredi = bank_file_read(fixture("cnab400/sicredi.ret")).credits[0]
    assert (sicredi.reference, str(sicredi.credited_on)) == ("162000017", "2016-12-07")
    bb7 = bank_file_read(fixture("cnab400/bb_convenio7.ret")).credits[0]
    assert bb7.reference == "11122450000000290"  # type 7: convênio of 7 + 10 digits
    bb6 = bank_file_read(fixture("cnab400/bb_convenio6.ret")).not_payments
    assert [n.reference for n in bb6] == ["18051511267", "18051511275"]  # type 1: 63-73
    itau240 = bank_file_read(fixture("cnab240/itau.ret")).credits[0]
    assert itau240.reference == "12345678"  # carteira 175 and the DAC left out
    banrisul240 = bank_file_read(fixture("cnab240/banrisul.ret")).credits[0]
    # Nosso número left-aligned in 38-57; the amount paid (200,00), not the title's 199,90
    # nor the 197,00 credited net of the fee; the credit date, not the payment's 15/07.
    assert (banrisul240.reference, banrisul240.amount) == ("2283256351", Decimal("200.00"))
    assert str(banrisul240.credited_on) == "2015-07-16"
    sicoob240 = bank_file_read(fixture("cnab240/sicoob.ret")).credits
    # The last two have no credit date: the payment date stands in.
    assert [str(c.credited_on) for c in sicoob240] == [
        "2016-05-03",
        "2016-05-06",
        "2016-05-06",
        "2016-05-06",
        "2016-05-06",
    ]
    nubank = bank_file_read(fixture("ofx/nubank.ofx")).credits[0]
    assert "Recebida - AKAD SEGUROS" in nubank.description  # UTF-8 read as UTF-8


def test_each_bank_lists_its_liquidation_codes_and_describes_every_code():
    assert {"06", "15", "17"} <= LAYOUTS_400["237"].payments
    assert {"06", "07", "08", "10"} <= LAYOUTS_400["341"].payments
    assert {"05", "06", "07", "08", "15"} <= LAYOUTS_400["001"].payments
    assert {"21", "22"} <= LAYOUTS_400["104"].payments
    assert set(LAYOUTS_400["001"].nosso_numero) == {"1", "7"}
    for layout in [*LAYOUTS_400.values(), *LAYOUTS_240.values()]:
        assert layout.payments <= set(layout.codes), layout.name
        assert "02" in layout.codes and "02" not in layout.payments, layout.name


def reshape(content: bytes, *, newline: str = "\r\n", strip: bool = False) -> bytes:
    lines = content.decode("latin-1").splitlines()
    if strip:
        lines = [line.rstrip() for line in lines]
    return newline.join(lines).encode("latin-1")


@pytest.mark.parametrize(
    ("name", "mangle"),
    [
        ("cnab400/itau.ret", lambda b: reshape(b, newline="\n", strip=True)),
        ("cnab400/santander.ret", lambda b: reshape(b, newline="\r")),
        ("cnab240/sicoob.ret", lambda b: reshape(b, newline="\r\n", strip=True)),
        ("cnab240/sicoob.ret", lambda b: b.decode("latin-1").encode("utf-8")),
        (
            "cnab240/sicoob.ret",
            lambda b: b.replace("ÇÃO".encode("latin-1"), "–“”".encode("cp1252")),
        ),
        ("cnab400/bradesco.ret", lambda b: b + b"\x1a"),
        ("cnab400/bradesco.ret", lambda b: b"\r\n" + b.replace(b"\n", b"\n\r\n   \r\n") + b"\r\n"),
        ("cnab400/sicredi.ret", lambda b: b.replace(b"1.00000001\r\n", b"1.00000001 \r\n", 1)),
        ("cnab400/sicredi.ret", lambda b: b.replace(b"1.00000001\r\n", b"1.000000012\r\n", 1)),
        ("cnab240/btg.ret", lambda b: b.replace(b"\r\n", b"X\r\n", 1)),
        ("ofx/itau.ofx", lambda b: b.replace(b"\r\n", b"\n") + b"\x1a"),
    ],
)
def test_files_as_real_files_come_read_the_same(name, mangle):
    """Trailing spaces trimmed, CRLF/LF/CR, UTF-8 or Windows-1252 accents, an EOF byte, blank
    lines, a header one character too long: the same credits as the original."""
    original = bank_file_read(fixture(name))
    mangled = bank_file_read(mangle(fixture(name)))
    assert mangled.credits == original.credits
    assert mangled.not_payments_by_code() == original.not_payments_by_code()
    assert [n.reference for n in mangled.not_payments] == [
        n.reference for n in original.not_payments
    ]


def test_trimmed_lines_and_blank_lines_keep_their_line_numbers_in_keys():
    # The Banco do Brasil file came with its trailing spaces trimmed (lines of 146 to 235).
    raw = fixture("cnab240/bb.ret").decode("latin-1").splitlines()
    assert {len(line) for line in raw} != {240}
    read = bank_file_read(fixture("cnab240/bb.ret"))
    assert [c.key.rsplit(":", 1)[1] for c in read.credits] == ["3", "7", "9"]


def pt_br(callable_, *args):
    with translation.override("pt-br"):
        return callable_(*args)


def refusal(content: bytes) -> str:
    with translation.override("pt-br"), pytest.raises(BankFileError) as error:
        bank_file_read(content)
    return str(error.value)


def test_a_file_whose_records_are_all_unknown_is_refused_in_pt_br():
    # Banco Inter's CNAB 240 of *payments* (segments A and B), not of cobrança.
    message = refusal(fixture("cnab240/inter_pagamentos.ret"))
    assert "8 registros de detalhe" in message and "nenhum" in message
    assert "segmento A (4)" in message and "nada foi importado" in message
    # Caixa's pre-check rejection of a whole file: one segment W.
    assert "segmento W (1)" in refusal(fixture("cnab240/caixa_rejeitado.ret"))
    # Every movement code unknown to the bank's table.
    bradesco = fixture("cnab400/bradesco.ret").decode("latin-1").split("\n")
    unknown = [line[:108] + "77" + line[110:] if line[:1] == "1" else line for line in bradesco]
    message = refusal("\n".join(unknown).encode("latin-1"))
    assert "7 registros de detalhe" in message and "código 77 (7)" in message


def test_header_and_trailer_alone_or_a_statement_without_transactions_are_refused():
    lines = fixture("cnab400/bb_convenio7.ret").split(b"\r\n")
    assert "nenhum registro de movimento" in refusal(b"\r\n".join([lines[0], lines[2]]))
    empty_ofx = b"OFXHEADER:100\n<OFX><BANKTRANLIST></BANKTRANLIST></OFX>\n"
    assert "nenhum lançamento" in refusal(empty_ofx)


def edit(name: str, line: int, start: int, value: str) -> bytes:
    """The fixture with `value` written at the 1-based position `start` of line `line`."""
    lines = fixture(name).decode("latin-1").split("\n")
    text = lines[line - 1]
    lines[line - 1] = text[: start - 1] + value + text[start - 1 + len(value) :]
    return "\n".join(lines).encode("latin-1")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (edit("cnab400/itau.ret", 1, 1, "01REMESSA"), "Linha 1: este é um arquivo de remessa"),
        (edit("cnab400/itau.ret", 3, 401, "XYZ"), "Linha 3: tem 403 caracteres"),
        (edit("cnab240/caixa.ret", 4, 78, "00000000800AB"), "Linha 4: o valor “00000000800AB"),
        (edit("cnab240/caixa.ret", 4, 146, "31022014"), "Linha 4: a data “31022014”"),
        (b"\x1a\r\n\r\n", "vazio"),
    ],
)
def test_bad_input_gets_a_clear_pt_br_error(content, error):
    assert error in refusal(content)


def test_an_unknown_code_among_known_ones_is_listed_not_dropped():
    bradesco = fixture("cnab400/bradesco.ret").decode("latin-1").split("\n")
    bradesco[1] = bradesco[1][:108] + "77" + bradesco[1][110:]  # was 02, entrada confirmada
    read = pt_br(bank_file_read, "\n".join(bradesco).encode("latin-1"))
    assert len(read.credits) == 6
    assert read.not_payments_by_code() == [("77", "código fora da tabela do banco", 1)]


def test_a_payment_code_without_money_is_listed_not_credited():
    read = pt_br(bank_file_read, edit("cnab400/sicredi.ret", 2, 254, "0" * 13))
    assert read.credits == []
    assert ("06", "Liquidação normal, sem valor pago", 1) in read.not_payments_by_code()


def test_the_not_payments_summary_names_each_code_in_pt_br():
    read = bank_file_read(fixture("cnab240/sicredi.crt"))
    assert pt_br(not_payments_summary, read.not_payments_by_code()) == (
        "2 registros não eram pagamentos: 02 (Entrada confirmada) ×1, "
        "28 (Débito de tarifas/custas) ×1."
    )
    one = [("02", "Entrada confirmada", 1)]
    assert pt_br(not_payments_summary, one).startswith("1 registro não era pagamento")
    assert not_payments_summary([]) == ""


@pytest.mark.django_db
def test_importing_a_real_file_records_its_credits_and_lists_the_rest(tenant_a):
    with scope(tenant=tenant_a):
        statement = bank_statement_import(
            tenant=tenant_a, filename="CB110412.RET", content=fixture("cnab400/bradesco.ret")
        )
        assert (statement.kind, statement.credits, statement.matched) == ("cnab400", 6, 0)
        assert statement.not_payments == [("02", "Entrada confirmada", 1)]
        assert BankCredit.objects.count() == 6
        again = bank_statement_import(
            tenant=tenant_a, filename="CB110412.RET", content=fixture("cnab400/bradesco.ret")
        )
        assert (again.credits, again.duplicates) == (0, 6)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["cnab240/inter_pagamentos.ret", "cnab240/caixa_rejeitado.ret"])
def test_a_refused_real_file_writes_nothing(tenant_a, name):
    with scope(tenant=tenant_a):
        with pytest.raises(BankFileError):
            bank_statement_import(tenant=tenant_a, filename=name, content=fixture(name))
        assert not BankStatement.objects.exists()
        assert not BankCredit.objects.exists() and not Payment.objects.exists()
