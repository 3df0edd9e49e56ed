"""Bank files in: CNAB 240 and 400 return files and OFX statements become payments, matched by
nosso número, Pix txid, or amount and date; the rest waits for an agent."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope

from collections_app.bank_files import BankFileError, bank_file_parse
from collections_app.models import BankCredit, BankStatement, CreditStatus, Invoice, Payment
from collections_app.reconciliation import bank_statement_import
from tests.factories import make_invoice

pytestmark = pytest.mark.django_db

DUE = date(2026, 11, 16)  # a Monday


def put(line: list[str], start: int, value: str) -> None:
    """Write `value` at the 1-based position `start` of a fixed-width line."""
    line[start - 1 : start - 1 + len(value)] = list(value)


def cnab240(*payments: tuple[str, str, Decimal, date], bank: str = "001") -> bytes:
    """A CNAB 240 return file: (movement, nosso número, amount paid, credit date) per title,
    the nosso número in the 20 positions FEBRABAN gives it (Banco do Brasil keeps them so)."""
    header = [" "] * 240
    put(header, 1, bank)
    put(header, 8, "0")
    lines = ["".join(header)]
    for movement, nosso, amount, day in payments:
        t = [" "] * 240
        put(t, 1, bank)
        put(t, 8, "3")
        put(t, 14, "T")
        put(t, 16, movement)
        put(t, 38, nosso.rjust(20, "0"))
        u = [" "] * 240
        put(u, 1, bank)
        put(u, 8, "3")
        put(u, 14, "U")
        put(u, 78, f"{int(amount * 100):015d}")
        put(u, 138, day.strftime("%d%m%Y"))
        put(u, 146, day.strftime("%d%m%Y"))
        lines += ["".join(t), "".join(u)]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def cnab400(bank: str, *payments: tuple[str, str, Decimal, date]) -> bytes:
    header = ["0"] + [" "] * 399
    put(header, 77, bank)
    lines = ["".join(header)]
    for seq, (movement, nosso, amount, day) in enumerate(payments, 2):
        line = ["1"] + [" "] * 399
        start = {"341": 63, "237": 71}[bank]
        width = {"341": 8, "237": 12}[bank]
        put(line, start, nosso.rjust(width, "0"))
        put(line, 109, movement)
        put(line, 111, day.strftime("%d%m%y"))
        put(line, 254, f"{int(amount * 100):013d}")
        put(line, 395, f"{seq:06d}")
        lines.append("".join(line))
    return "\n".join(lines).encode("latin-1")


def ofx(*transactions: tuple[str, str, str, str]) -> bytes:
    """(FITID, amount, date AAAAMMDD, memo) per transaction, in OFX 1 (SGML) style."""
    body = "".join(
        f"<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>{day}120000[-3:BRT]\n<TRNAMT>{amount}\n"
        f"<FITID>{fitid}\n<MEMO>{memo}\n</STMTTRN>\n"
        for fitid, amount, day, memo in transactions
    )
    return (
        "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST>\n"
        f"{body}</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    ).encode()


def invoices(tenant):
    a = make_invoice(tenant, due=DUE, amount="150.00")
    b = make_invoice(tenant, due=DUE, amount="275.50")
    c = make_invoice(tenant, due=DUE + timedelta(days=2), amount="99.90")
    with scope(tenant=tenant):
        Invoice.objects.filter(pk=a.pk).update(bank_reference="12345678")
    return a, b, c


def test_a_cnab_240_return_file_pays_by_nosso_numero(tenant_a):
    a, _b, _c = invoices(tenant_a)
    content = cnab240(
        ("06", "12345678", Decimal("150.00"), DUE),  # a liquidação: pays invoice a
        ("02", "12345678", Decimal("150.00"), DUE),  # an entry confirmation: not a credit
        ("06", "99999999", Decimal("12.34"), DUE),  # a liquidação of nothing we know
    )
    with scope(tenant=tenant_a):
        statement = bank_statement_import(tenant=tenant_a, filename="ret.txt", content=content)
        a.refresh_from_db()
        queue = list(BankCredit.objects.filter(status=CreditStatus.UNMATCHED))
    assert (statement.kind, statement.credits, statement.matched) == ("cnab240", 2, 1)
    assert a.status == "paid"
    assert [(c.amount, c.reference) for c in queue] == [(Decimal("12.34"), "99999999")]


def test_a_cnab_400_file_reads_the_nosso_numero_where_its_bank_puts_it(tenant_a):
    a, _b, _c = invoices(tenant_a)
    for bank in ("341", "237"):
        kind, credits = bank_file_parse(cnab400(bank, ("06", "12345678", Decimal("150"), DUE)))
        assert kind == "cnab400" and credits[0].reference == "12345678"
        assert credits[0].amount == Decimal("150.00") and credits[0].credited_on == DUE
    with scope(tenant=tenant_a):
        bank_statement_import(
            tenant=tenant_a,
            filename="cb.ret",
            content=cnab400("341", ("06", "12345678", Decimal("150.00"), DUE)),
        )
        a.refresh_from_db()
    assert a.status == "paid"


def test_an_ofx_statement_pays_by_txid_and_by_amount_and_date(tenant_a):
    _a, b, c = invoices(tenant_a)
    content = ofx(
        ("F1", "99.90", DUE.strftime("%Y%m%d"), f"PIX RECEBIDO {c.pix_txid}"),
        ("F2", "275.50", (DUE + timedelta(days=1)).strftime("%Y%m%d"), "TED CLIENTE"),
        ("F3", "-50.00", DUE.strftime("%Y%m%d"), "TARIFA"),  # a debit: not a credit
        ("F4", "150.00", (DUE + timedelta(days=30)).strftime("%Y%m%d"), "DEPOSITO"),
    )
    with scope(tenant=tenant_a):
        statement = bank_statement_import(tenant=tenant_a, filename="extrato.ofx", content=content)
        how = dict(BankCredit.objects.values_list("key", "matched_by"))
        b.refresh_from_db()
        c.refresh_from_db()
    assert (statement.kind, statement.credits, statement.matched) == ("ofx", 3, 2)
    assert how == {"ofx:F1": "pix_txid", "ofx:F2": "amount_date", "ofx:F4": ""}
    assert b.status == "paid" and c.status == "paid"


def test_the_same_file_twice_records_nothing_twice(tenant_a):
    invoices(tenant_a)
    content = cnab240(("06", "12345678", Decimal("150.00"), DUE))
    with scope(tenant=tenant_a):
        bank_statement_import(tenant=tenant_a, filename="a", content=content)
        again = bank_statement_import(tenant=tenant_a, filename="a", content=content)
        payments = Payment.objects.count()
    assert (again.credits, again.duplicates, payments) == (0, 1, 1)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "vazio"),
        (b"x" * 120, "120 caracteres"),
        (ofx(("F1", "abc", "20261116", "")), "Transação 1: o valor “abc”"),
        (ofx(("F1", "10.00", "2026-11", "")), "Transação 1: a data"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(tenant_a, content, error):
    invoices(tenant_a)
    with scope(tenant=tenant_a):
        with pytest.raises(BankFileError, match=error):
            bank_statement_import(tenant=tenant_a, filename="bad", content=content)
        assert not BankStatement.objects.exists() and not Payment.objects.exists()


def test_an_agent_works_the_review_queue(tenant_a, agent, viewer, login):
    _a, b, _c = invoices(tenant_a)
    assert login(viewer).get("/bank/").status_code == 403
    client = login(agent)
    upload = SimpleUploadedFile(
        "extrato.ofx", ofx(("Z1", "275.50", "20261201", "TED"), ("Z2", "5.00", "20261201", "X"))
    )
    answer = client.post("/bank/", {"file": upload}, follow=True).content.decode()
    assert "2 créditos lidos" in answer
    with scope(tenant=tenant_a):
        first, second = BankCredit.objects.order_by("key")
    client.post(f"/bank/credits/{first.pk}/", {"invoice": b.number})
    client.post(f"/bank/credits/{second.pk}/", {"ignore": "1"})
    with scope(tenant=tenant_a):
        first.refresh_from_db()
        second.refresh_from_db()
        b.refresh_from_db()
    assert first.status == CreditStatus.MATCHED and first.matched_by == "agent"
    assert first.resolved_by_id == agent.pk and b.status == "paid"
    assert second.status == CreditStatus.IGNORED
    bad = client.post("/bank/", {"file": SimpleUploadedFile("x.txt", b"nope")}, follow=True)
    assert "não foi importado" in bad.content.decode()


def test_the_api_sets_the_nosso_numero_a_return_file_pays_by(tenant_a, api_a):
    import json as jsonlib

    answer = api_a.post(
        "/api/v1/invoices/",
        jsonlib.dumps(
            {
                "external_id": "NF-77",
                "amount": "150.00",
                "issue_date": "2026-10-16",
                "due_date": DUE.isoformat(),
                "bank_reference": "87654321",
                "customer": {"external_id": "C-77", "name": "Ana"},
            }
        ),
        content_type="application/json",
    )
    assert answer.status_code == 201 and answer.json()["bank_reference"] == "87654321"
    with scope(tenant=tenant_a):
        bank_statement_import(
            tenant=tenant_a,
            filename="r",
            content=cnab240(("06", "87654321", Decimal("150.00"), DUE)),
        )
        assert Invoice.objects.get(external_id="NF-77").status == "paid"


def test_the_bank_page_names_the_records_that_were_not_payments(tenant_a, agent, login):
    """A real Bradesco return: six payments read, and its entry confirmation named by code."""
    from pathlib import Path

    real = Path(__file__).parent / "fixtures" / "bank_files" / "cnab400" / "bradesco.ret"
    upload = SimpleUploadedFile("CB110412.RET", real.read_bytes())
    answer = login(agent).post("/bank/", {"file": upload}, follow=True).content.decode()
    assert "6 créditos lidos" in answer
    assert "1 registro não era pagamento: 02 (Entrada confirmada) ×1." in answer
    with scope(tenant=tenant_a):
        assert BankCredit.objects.count() == 6


def test_a_file_of_unknown_records_is_refused_on_the_bank_page(tenant_a, agent, login):
    from pathlib import Path

    real = Path(__file__).parent / "fixtures" / "bank_files" / "cnab240" / "inter_pagamentos.ret"
    upload = SimpleUploadedFile("CI240.ret", real.read_bytes())
    answer = login(agent).post("/bank/", {"file": upload}, follow=True).content.decode()
    assert "não foi importado" in answer and "nenhum é um movimento de cobrança" in answer
    with scope(tenant=tenant_a):
        assert not BankStatement.objects.exists()
