"""Bank files in: CNAB 240 and 400 return files and OFX statements become payments, matched by
nosso número, Pix txid, or amount and date; the rest waits for an agent."""

import json as jsonlib
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django_scopes import scope

from collections_app.models import BankCredit, BankStatement, CreditStatus, Invoice, Payment
from collections_app.payments import reconciliation
from collections_app.payments.bank_files import BankFileError, bank_file_parse
from collections_app.payments.dates import paid_at_on
from collections_app.payments.reconciliation import bank_statement_import
from collections_app.payments.services import PaymentError
from tests.collections_app.factories import InvoiceFactory
from tests.paths import FIXTURES

pytestmark = pytest.mark.django_db

DUE = date(2026, 11, 16)  # a Monday


def put(line: list[str], start: int, value: str) -> None:
    """Write `value` at the 1-based position `start` of a fixed-width line."""
    line[start - 1 : start - 1 + len(value)] = list(value)


def cnab240(
    *payments: tuple[str, str, Decimal, date],
    bank: str = "001",
    account: str = "0123450000000054321",
    credit_lag: int = 0,
) -> bytes:
    """A CNAB 240 return file: (movement, nosso número, amount paid, payment date) per title,
    the nosso número in the 20 positions FEBRABAN gives it (Banco do Brasil keeps them so),
    credited `credit_lag` days after it was paid, to the header's agency and account."""
    header = [" "] * 240
    put(header, 1, bank)
    put(header, 8, "0")
    put(header, 53, account)
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
        put(u, 146, (day + timedelta(days=credit_lag)).strftime("%d%m%Y"))
        lines += ["".join(t), "".join(u)]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def cnab400(
    bank: str,
    *payments: tuple[str, str, Decimal, date],
    account: str = "011100123450",
    credit_lag: int | None = None,
) -> bytes:
    """(movement, nosso número, amount paid, date of the occurrence) per title; with
    `credit_lag`, a credit date that many days after it."""
    header = ["0"] + [" "] * 399
    put(header, 27, account)
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
        if credit_lag is not None:
            put(line, 296, (day + timedelta(days=credit_lag)).strftime("%d%m%y"))
        put(line, 395, f"{seq:06d}")
        lines.append("".join(line))
    return "\n".join(lines).encode("latin-1")


def ofx(
    *transactions: tuple[str, str, str, str], bank: str = "0341", acct: str = "1234-5"
) -> bytes:
    """(FITID, amount, date AAAAMMDD, memo) per transaction, in OFX 1 (SGML) style, of the
    account `acct` at `bank`."""
    body = "".join(
        f"<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>{day}120000[-3:BRT]\n<TRNAMT>{amount}\n"
        f"<FITID>{fitid}\n<MEMO>{memo}\n</STMTTRN>\n"
        for fitid, amount, day, memo in transactions
    )
    return (
        "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS>\n"
        f"<BANKACCTFROM><BANKID>{bank}<ACCTID>{acct}<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
        "<BANKTRANLIST>\n"
        f"{body}</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    ).encode()


def fixture(name: str) -> bytes:
    return (FIXTURES / "bank_files" / name).read_bytes()


def invoices(tenant):
    a = InvoiceFactory(tenant=tenant, due_date=DUE, amount="150.00")
    b = InvoiceFactory(tenant=tenant, due_date=DUE, amount="275.50")
    c = InvoiceFactory(tenant=tenant, due_date=DUE + timedelta(days=2), amount="99.90")
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
    assert how == {
        "ofx:341::12345:F1": "pix_txid",
        "ofx:341::12345:F2": "amount_date",
        "ofx:341::12345:F4": "",
    }
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
        (ofx(("F1", "abc", "20261116", "")), "Linha 10 \\(transação 1\\): o valor “abc”"),
        (ofx(("F1", "10.00", "2026-11", "")), "Linha 9 \\(transação 1\\): a data"),
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

    real = FIXTURES / "bank_files" / "cnab400" / "bradesco.ret"
    upload = SimpleUploadedFile("CB110412.RET", real.read_bytes())
    answer = login(agent).post("/bank/", {"file": upload}, follow=True).content.decode()
    assert "6 créditos lidos" in answer
    assert "1 registro não era pagamento: 02 (Entrada confirmada) ×1." in answer
    with scope(tenant=tenant_a):
        assert BankCredit.objects.count() == 6


def test_a_file_of_unknown_records_is_refused_on_the_bank_page(tenant_a, agent, login):

    real = FIXTURES / "bank_files" / "cnab240" / "inter_pagamentos.ret"
    upload = SimpleUploadedFile("CI240.ret", real.read_bytes())
    answer = login(agent).post("/bank/", {"file": upload}, follow=True).content.decode()
    assert "não foi importado" in answer and "nenhum é um movimento de cobrança" in answer
    with scope(tenant=tenant_a):
        assert not BankStatement.objects.exists()


# --- Review-queue reasons, keys that name the account, payment dates, queries ---------------


def test_a_credit_for_a_cancelled_invoice_waits_with_its_reason_and_the_file_goes_in(
    tenant_a, agent, login
):
    """One credit to a cancelled (or written-off) invoice used to abort the whole file with a
    500: now it waits in the queue with a reason in pt-BR, and the others are recorded."""
    a, b, c = invoices(tenant_a)
    with scope(tenant=tenant_a):
        Invoice.objects.filter(pk=b.pk).update(bank_reference="555", status="cancelled")
        Invoice.objects.filter(pk=c.pk).update(bank_reference="777", status="written_off")
    content = cnab240(
        ("06", "12345678", Decimal("150.00"), DUE),
        ("06", "555", Decimal("275.50"), DUE),
        ("06", "777", Decimal("99.90"), DUE),
    )
    upload = SimpleUploadedFile("ret.txt", content)
    answer = login(agent).post("/bank/", {"file": upload}, follow=True)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "3 créditos lidos: 1 conciliados" in page
    assert "2 créditos aguardam revisão" in page
    with scope(tenant=tenant_a):
        a.refresh_from_db()
        queue = dict(
            BankCredit.objects.filter(status=CreditStatus.UNMATCHED).values_list(
                "reference", "review_reason"
            )
        )
        assert not Payment.objects.filter(invoice__in=[b, c]).exists()
    assert a.status == "paid"
    assert queue == {
        "555": f"A fatura {b.number or b.external_id}, que este crédito paga (pelo nosso número "
        "555), está cancelada: o pagamento não foi registrado.",
        "777": f"A fatura {c.number or c.external_id}, que este crédito paga (pelo nosso número "
        "777), foi baixada como perda: o pagamento não foi registrado.",
    }
    assert queue["555"] in page.replace("&quot;", '"')


def test_a_payment_refused_for_one_credit_leaves_it_in_review_and_records_the_rest(
    tenant_a, monkeypatch
):

    a, b, _c = invoices(tenant_a)
    with scope(tenant=tenant_a):
        Invoice.objects.filter(pk=b.pk).update(bank_reference="555")
    real = reconciliation.invoice_record_payment

    def refuse_b(**kwargs):
        if kwargs["invoice"].pk == b.pk:
            raise PaymentError("blocked for the test")
        return real(**kwargs)

    monkeypatch.setattr(reconciliation, "invoice_record_payment", refuse_b)
    content = cnab240(
        ("06", "555", Decimal("275.50"), DUE), ("06", "12345678", Decimal("150.00"), DUE)
    )
    with scope(tenant=tenant_a), translation.override("pt-br"):
        statement = bank_statement_import(tenant=tenant_a, filename="r", content=content)
        waiting = BankCredit.objects.get(status=CreditStatus.UNMATCHED)
        a.refresh_from_db()
    assert (statement.credits, statement.matched, a.status) == (2, 1, "paid")
    assert waiting.review_reason == (
        f"O pagamento da fatura {b.number or b.external_id} não foi registrado: "
        "blocked for the test"
    )


def test_the_same_fitid_in_two_accounts_is_two_credits(tenant_a):
    """FITIDs are unique only within one account: Itaú's 00094637 and Banco do Brasil's."""
    invoices(tenant_a)
    itau = ofx(("00094637", "100.00", "20261116", "PIX"), bank="0341", acct="1604812066")
    bb = ofx(("00094637", "250.00", "20261116", "PIX"), bank="001", acct="455000-5")
    with scope(tenant=tenant_a):
        first = bank_statement_import(tenant=tenant_a, filename="itau.ofx", content=itau)
        second = bank_statement_import(tenant=tenant_a, filename="bb.ofx", content=bb)
        again = bank_statement_import(tenant=tenant_a, filename="bb.ofx", content=bb)
        amounts = sorted(BankCredit.objects.values_list("amount", flat=True))
    assert (first.credits, second.credits, second.duplicates) == (1, 1, 0)
    assert (again.credits, again.duplicates) == (0, 1)
    assert amounts == [Decimal("100.00"), Decimal("250.00")]


def test_the_same_cnab_lines_from_two_accounts_are_two_credits(tenant_a):
    invoices(tenant_a)
    title = ("06", "99999999", Decimal("12.34"), DUE)
    with scope(tenant=tenant_a):
        for account in ("011100123450", "022200678900"):
            statement = bank_statement_import(
                tenant=tenant_a, filename="cb", content=cnab400("341", title, account=account)
            )
            assert (statement.credits, statement.duplicates) == (1, 0)
        for account in ("0123450000000054321", "0999990000000011111"):
            statement = bank_statement_import(
                tenant=tenant_a, filename="r", content=cnab240(title, account=account)
            )
            assert (statement.credits, statement.duplicates) == (1, 0)
        assert BankCredit.objects.count() == 4


def test_a_file_imported_before_keys_named_the_account_is_not_recorded_twice(tenant_a):
    """Credits stored under the previous keys (ofx:FITID, cnab400:bank:nosso:day:seq): the
    same file imported again is recognised; a credit of another account sharing the old key
    but not its amount is not taken for it."""
    invoices(tenant_a)
    itau_ofx = ofx(("00094637", "100.00", "20261116", "PIX"))
    itau_400 = cnab400("341", ("06", "99999999", Decimal("12.34"), DUE))
    with scope(tenant=tenant_a):
        for content in (itau_ofx, itau_400):
            [credit] = bank_file_parse(content)[1]
            old = bank_statement_import(tenant=tenant_a, filename="old", content=content)
            BankCredit.objects.filter(statement=old).update(key=credit.legacy_key)
        assert set(BankCredit.objects.values_list("key", flat=True)) == {
            "ofx:00094637",
            f"cnab400:341:99999999:{DUE.isoformat()}:000002",
        }
        again = [
            bank_statement_import(tenant=tenant_a, filename="again", content=content)
            for content in (itau_ofx, itau_400)
        ]
        other = ofx(("00094637", "250.00", "20261116", "PIX"), bank="001", acct="9")
        other_account = bank_statement_import(tenant=tenant_a, filename="bb", content=other)
    assert [(s.credits, s.duplicates) for s in again] == [(0, 1), (0, 1)]
    assert (other_account.credits, other_account.duplicates) == (1, 0)


def test_a_boleto_paid_on_its_due_date_is_on_time_though_credited_later(tenant_a):
    """CNAB: the payment is dated by the data da ocorrência; the credit date (a day or two
    later) is kept on the credit. Both layouts."""
    a, b, _c = invoices(tenant_a)
    with scope(tenant=tenant_a):
        Invoice.objects.filter(pk=b.pk).update(bank_reference="87654321")
        bank_statement_import(
            tenant=tenant_a,
            filename="cb",
            content=cnab400("341", ("06", "12345678", Decimal("150.00"), DUE), credit_lag=2),
        )
        bank_statement_import(
            tenant=tenant_a,
            filename="r",
            content=cnab240(("06", "87654321", Decimal("275.50"), DUE), credit_lag=1),
        )
        credits = {c.reference: c for c in BankCredit.objects.all()}
        for invoice in (a, b):
            invoice.refresh_from_db()
    assert (credits["12345678"].paid_on, credits["12345678"].credited_on) == (
        DUE,
        DUE + timedelta(days=2),
    )
    assert (credits["87654321"].paid_on, credits["87654321"].credited_on) == (
        DUE,
        DUE + timedelta(days=1),
    )
    for invoice in (a, b):
        assert invoice.status == "paid"
        assert timezone.localtime(invoice.paid_at, ZoneInfo(tenant_a.timezone)).date() == DUE


def test_the_real_files_keep_the_payment_date_and_the_credit_date_apart():
    bradesco = bank_file_parse(fixture("cnab400/bradesco.ret"))[1][0]
    assert (str(bradesco.paid_on), str(bradesco.credited_on)) == ("2012-04-11", "2012-04-13")
    bb7 = bank_file_parse(fixture("cnab400/bb_convenio7.ret"))[1][0]  # 111-116 and 176-181
    assert (str(bb7.paid_on), str(bb7.credited_on)) == ("2015-09-08", "2015-09-10")
    sicredi = bank_file_parse(fixture("cnab400/sicredi.ret"))[1][0]  # 329-336, AAAAMMDD
    assert (str(sicredi.paid_on), str(sicredi.credited_on)) == ("2016-12-05", "2016-12-07")
    banrisul240 = bank_file_parse(fixture("cnab240/banrisul.ret"))[1][0]  # U 138 and 146
    assert (str(banrisul240.paid_on), str(banrisul240.credited_on)) == ("2015-07-15", "2015-07-16")


@pytest.mark.parametrize(
    ("stored", "in_file"),
    [("00012345", "12345"), ("12345", "00012345"), ("0001234-5", "12345"), ("1.234.5", "12345")],
)
def test_a_nosso_numero_matches_whatever_its_leading_zeros_and_separators(
    tenant_a, stored, in_file
):
    a, _b, _c = invoices(tenant_a)
    with scope(tenant=tenant_a):
        Invoice.objects.filter(pk=a.pk).update(bank_reference=stored)
        statement = bank_statement_import(
            tenant=tenant_a,
            filename="cb",
            content=cnab400("341", ("06", in_file, Decimal("150.00"), DUE)),
        )
        how = BankCredit.objects.get().matched_by
        a.refresh_from_db()
    assert (statement.matched, how, a.status) == (1, "nosso_numero", "paid")


def test_matching_reads_the_candidates_once_per_file_not_per_credit(tenant_a):
    """Credits that match nothing cost one insert each; the lookups are per file."""
    invoices(tenant_a)

    def queries(n: int) -> int:
        content = cnab240(
            *[("06", f"9{k:07d}", Decimal("1.00") + k, DUE) for k in range(n)],
            account=f"{n:019d}",
        )
        with scope(tenant=tenant_a), CaptureQueriesContext(connection) as captured:
            statement = bank_statement_import(tenant=tenant_a, filename="r", content=content)
        assert (statement.credits, statement.matched) == (n, 0)
        return len(captured)

    assert queries(40) - queries(2) == 38


def test_credits_in_one_file_pay_each_open_invoice_once_by_amount_and_date(tenant_a):
    """The candidates are read up front: after one credit pays an invoice by amount, the next
    credit of the same amount does not pay it again."""
    _a, b, _c = invoices(tenant_a)
    day = DUE.strftime("%Y%m%d")
    content = ofx(("T1", "275.50", day, "TED"), ("T2", "275.50", day, "TED"))
    with scope(tenant=tenant_a):
        statement = bank_statement_import(tenant=tenant_a, filename="x.ofx", content=content)
        b.refresh_from_db()
    assert (statement.credits, statement.matched) == (2, 1)
    assert b.amount_paid == Decimal("275.50")


# --- OFX amounts: read strictly, per file ---------------------------------------------------


def amounts_of(*raws: str) -> list[Decimal]:
    content = ofx(*[(f"F{k}", raw, "20261116", "X") for k, raw in enumerate(raws)])
    return [c.amount for c in bank_file_parse(content)[1]]


def test_ofx_amounts_are_read_with_the_files_decimal_separator():
    assert amounts_of("1,234.56", "10.00") == [Decimal("1234.56"), Decimal("10.00")]
    assert amounts_of("1.234,56", "19,00", "1.234") == [
        Decimal("1234.56"),
        Decimal("19.00"),
        Decimal("1234.00"),
    ]
    assert amounts_of("1234.5", "7") == [Decimal("1234.50"), Decimal("7.00")]
    assert amounts_of("58.000", "7.25") == [Decimal("58.00"), Decimal("7.25")]  # zeros lose nothing


@pytest.mark.parametrize(
    ("raws", "error"),
    [
        (("10.00", "1.234"), "Linha 17 (transação 2): o valor “1.234” tem mais de duas casas"),
        (("1234.567",), "Linha 10 (transação 1): o valor “1234.567” tem mais de duas casas"),
        (("1.234",), "Linha 10 (transação 1): o valor “1.234” pode ser lido como milhar"),
        (("1,234", "5"), "Linha 10 (transação 1): o valor “1,234” pode ser lido como milhar"),
        (("10.50", "19,00"), "dois jeitos, nada foi importado — Linha 10 (transação 1)"),
        (("1.23.4",), "o valor “1.23.4” não é um número"),
        (("1,234.5,6",), "não é um número"),
    ],
)
def test_an_ofx_amount_that_could_be_misread_is_refused_with_its_line(raws, error):
    content = ofx(*[(f"F{k}", raw, "20261116", "X") for k, raw in enumerate(raws)])
    with translation.override("pt-br"), pytest.raises(BankFileError) as refused:
        bank_file_parse(content)
    assert error in str(refused.value)


# --- The manual payment form ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "recorded"),
    [
        ("99,90", "99.90"),
        ("99.90", "99.90"),
        ("1.234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1.234", "1234.00"),
        ("R$ 1.234,50", "1234.50"),
    ],
)
def test_the_manual_payment_form_reads_the_amount_as_typed(tenant_a, agent, login, typed, recorded):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DUE, amount="5000.00")
    answer = login(agent).post(f"/invoices/{invoice.pk}/payment/", {"amount": typed}, follow=True)
    assert "Pagamento registrado" in answer.content.decode()
    with scope(tenant=tenant_a):
        assert Payment.objects.get().amount == Decimal(recorded)


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("1,234", "“1,234” pode ser lido de dois jeitos"),
        ("12.345,678", "Digite o valor"),
        ("0", "Digite o valor"),
    ],
)
def test_the_manual_payment_form_refuses_what_it_would_misread(
    tenant_a, agent, login, typed, error
):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DUE, amount="5000.00")
    answer = login(agent).post(f"/invoices/{invoice.pk}/payment/", {"amount": typed}, follow=True)
    assert error in answer.content.decode().replace("&ldquo;", "“").replace("&rdquo;", "”")
    with scope(tenant=tenant_a):
        assert not Payment.objects.exists()


@pytest.mark.clock("2026-12-02T09:30-03:00")
def test_a_manual_payment_is_dated_like_a_bank_credit_never_in_the_future(tenant_a, agent, login):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DUE, amount="5000.00")
    client = login(agent)
    url = f"/invoices/{invoice.pk}/payment/"
    client.post(url, {"amount": "10,00", "paid_on": "2026-12-01"})
    client.post(url, {"amount": "20,00", "paid_on": "2026-12-02"})  # today, before noon
    future = client.post(url, {"amount": "30,00", "paid_on": "2026-12-03"}, follow=True)
    assert "A data de pagamento está no futuro" in future.content.decode()
    with scope(tenant=tenant_a):
        paid = dict(Payment.objects.values_list("amount", "paid_at"))
    tz = ZoneInfo(tenant_a.timezone)
    assert paid[Decimal("10.00")] == paid_at_on(date(2026, 12, 1), tenant_a)
    assert paid[Decimal("10.00")].astimezone(tz).hour == 12
    assert paid[Decimal("20.00")] <= timezone.now()
    assert paid[Decimal("20.00")].astimezone(tz).date() == date(2026, 12, 2)
    assert Decimal("30.00") not in paid
