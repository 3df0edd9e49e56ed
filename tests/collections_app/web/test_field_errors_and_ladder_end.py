"""Errors beside their fields, in pt-BR (the holiday form, a bank credit's invoice number, the
invoice page's payment and agreement forms), and an invoice past its ladder's last step: "Fim da
régua" with that step and its date, in the queue and on the invoice page."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope, scopes_disabled

from collections_app.models import Agreement, BankCredit, CreditStatus, LadderStep, Payment
from collections_app.payments.reconciliation import bank_statement_import
from tenants.models import Role, TenantHoliday
from tenants.selectors import tenant_today
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.factories import MembershipFactory

pytestmark = [pytest.mark.django_db, on_the_suite_day]


def field_error(html: str, field_id: str) -> str:
    """The error text bound to the field: its input says aria-invalid and names the error list
    by aria-describedby, and that list is in the page. Fails the test otherwise."""
    tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    assert tag, f"no field {field_id}"
    assert 'aria-invalid="true"' in tag.group(0), tag.group(0)
    described = re.search(r'aria-describedby="([^"]+)"', tag.group(0))
    assert described, tag.group(0)
    error = re.search(
        rf'<(?:ul|div) class="errorlist"[^>]*\bid="{re.escape(described.group(1))}"[^>]*>(.*?)'
        r"</(?:ul|div)>",
        html,
        re.S,
    )
    assert error, f"no error list #{described.group(1)}"
    return re.sub(r"<[^>]+>", " ", error.group(1)).strip()


def no_flash_error(html: str) -> None:
    assert "flash-error" not in html


# --- the holiday form --------------------------------------------------------------------------


def test_a_holiday_without_a_valid_date_is_told_so_beside_the_date(tenant_a, login):
    admin = MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user
    answer = login(admin).post(
        "/settings/company/holidays/", {"date": "31/02/2026", "name": "Padroeira"}
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    assert field_error(html, "holiday_date") == "Informe uma data no formato dd/mm/aaaa."
    assert 'value="Padroeira"' in html  # what was typed stays
    no_flash_error(html)
    with scopes_disabled():
        assert not TenantHoliday.objects.filter(tenant=tenant_a).exists()


def test_a_holiday_missing_its_name_or_repeating_a_date_is_told_so_beside_the_field(
    tenant_a, login
):
    client = login(MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user)
    html = client.post("/settings/company/holidays/", {"date": "", "name": ""}).content.decode()
    assert field_error(html, "holiday_date") == "Escolha a data do feriado."
    assert field_error(html, "holiday_name") == "Dê um nome ao feriado."
    # dd/mm/aaaa typed by hand is read too.
    added = client.post("/settings/company/holidays/", {"date": "08/12/2026", "name": "Padroeira"})
    assert added.status_code == 302
    again = client.post("/settings/company/holidays/", {"date": "2026-12-08", "name": "Outra"})
    assert again.status_code == 400
    assert field_error(again.content.decode(), "holiday_date") == "Essa data já é feriado."
    with scopes_disabled():
        assert TenantHoliday.objects.filter(tenant=tenant_a).count() == 1


def test_a_company_settings_error_is_bound_to_its_field(tenant_a, login):
    client = login(MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user)
    form = client.get("/settings/company/").context["form"]
    data = {
        name: ("150" if name == "late_fine_percent" else value)
        for name, value in form.initial.items()
        if value is not None and name in form.fields
    }
    data["send_days_list"] = form.initial.get("send_days_list") or ["mon"]
    answer = client.post("/settings/company/", data)
    assert field_error(answer.content.decode(), "id_late_fine_percent") == "Entre 0 e 100."


def test_a_webhook_address_error_and_an_invitation_error_are_bound_to_their_fields(
    tenant_a, owner, login
):
    client = login(owner)
    html = client.post("/settings/webhooks/", {"url": "nao e url", "events": []}).content.decode()
    assert "URL" in field_error(html, "id_url") and "Enter" not in html
    assert 'aria-describedby="webhook-events-error"' in html
    invite = client.post("/settings/team/", {"email": "x@", "role": "agent"}).content.decode()
    assert field_error(invite, "id_email") == "Insira um endereço de email válido."


# --- a bank credit's invoice number ------------------------------------------------------------

STATEMENT = (
    "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS>\n"
    "<BANKACCTFROM><BANKID>0341<ACCTID>1234-5<ACCTTYPE>CHECKING</BANKACCTFROM>\n<BANKTRANLIST>\n"
    "<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20261201120000[-3:BRT]\n<TRNAMT>7.77"
    "\n<FITID>T-1\n<MEMO>PIX SEM IDENTIFICACAO\n</STMTTRN>\n"
    "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
)


def test_an_unknown_invoice_number_for_a_bank_credit_is_told_beside_that_field(
    tenant_a, agent, login
):
    with scope(tenant=tenant_a):
        bank_statement_import(tenant=tenant_a, filename="x.ofx", content=STATEMENT.encode())
        credit = BankCredit.objects.get()
    client = login(agent)
    answer = client.post(f"/bank/credits/{credit.pk}/", {"invoice": "NF-404"})
    assert answer.status_code == 400
    html = answer.content.decode()
    assert field_error(html, f"credit-{credit.pk}") == "Nenhuma fatura com o número NF-404."
    assert 'value="NF-404"' in html
    no_flash_error(html)
    empty = client.post(f"/bank/credits/{credit.pk}/", {"invoice": ""}).content.decode()
    assert field_error(empty, f"credit-{credit.pk}") == "Digite o número da fatura."
    with scope(tenant=tenant_a):
        assert BankCredit.objects.get().status == CreditStatus.UNMATCHED


def test_a_bank_file_that_is_missing_or_unreadable_is_told_beside_the_file_field(agent, login):
    client = login(agent)
    missing = client.post("/bank/", {})
    assert missing.status_code == 400
    assert field_error(missing.content.decode(), "bank-file") == "Escolha um arquivo."
    bad = client.post("/bank/", {"file": SimpleUploadedFile("x.txt", b"nope")})
    assert bad.status_code == 400
    assert field_error(bad.content.decode(), "bank-file").startswith("O arquivo não foi importado")
    no_flash_error(bad.content.decode())


# --- the invoice page's payment and agreement forms --------------------------------------------


def test_a_payment_with_a_bad_amount_or_date_is_told_beside_each_field(tenant_a, agent, login):
    invoice = InvoiceFactory(tenant=tenant_a, amount=Decimal("150.00"))
    client = login(agent)
    answer = client.post(
        f"/invoices/{invoice.pk}/payment/", {"amount": "abc", "paid_on": "2026-02-31"}
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "Digite o valor" in field_error(html, "pay-amount")
    assert field_error(html, "pay-date") == "Informe uma data no formato dd/mm/aaaa."
    assert 'value="abc"' in html
    no_flash_error(html)
    future = client.post(
        f"/invoices/{invoice.pk}/payment/", {"amount": "10,00", "paid_on": "2026-12-03"}
    ).content.decode()
    assert "futuro" in field_error(future, "pay-date")
    with scope(tenant=tenant_a):
        assert not Payment.objects.exists()


def test_an_agreement_with_bad_values_is_told_beside_each_field_never_invalid_value(
    tenant_a, agent, login
):
    today = tenant_today(tenant=tenant_a)
    invoice = InvoiceFactory(
        tenant=tenant_a, amount=Decimal("500.00"), due_date=today - timedelta(days=5)
    )
    client = login(agent)
    answer = client.post(
        f"/invoices/{invoice.pk}/agreement/",
        {"instalments": "x", "first_due": "32/13/2026", "total": "1,234"},
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    assert field_error(html, "ag-count") == "Informe um número de parcelas de 1 a 60."
    assert field_error(html, "ag-first") == "Informe uma data no formato dd/mm/aaaa."
    assert "pode ser lido de dois jeitos" in field_error(html, "ag-total")
    assert "Invalid value" not in html and "Valor inválido" not in html
    past = client.post(
        f"/invoices/{invoice.pk}/agreement/",
        {"instalments": "61", "first_due": (today - timedelta(days=1)).isoformat()},
    ).content.decode()
    assert field_error(past, "ag-count") == "Informe um número de parcelas de 1 a 60."
    assert "passado" in field_error(past, "ag-first")
    with scope(tenant=tenant_a):
        assert not Agreement.objects.exists()


def test_an_invoice_actions_error_is_beside_its_field_with_the_form_open(tenant_a, agent, login):
    invoice = InvoiceFactory(tenant=tenant_a, amount=Decimal("150.00"))
    client = login(agent)
    bad_date = client.post(f"/invoices/{invoice.pk}/promise/", {"date": "2026-02-31"})
    assert bad_date.status_code == 400  # not a 500: 31/02 is no date
    html = bad_date.content.decode()
    assert field_error(html, "promise-date") == "Informe uma data no formato dd/mm/aaaa."
    assert re.search(r'<details class="card" open><summary>Registrar uma promessa', html)
    no_flash_error(html)
    pause = client.post(f"/invoices/{invoice.pk}/pause/", {"until": ""}).content.decode()
    assert field_error(pause, "pause-until") == "Escolha uma data."
    reason = client.post(f"/invoices/{invoice.pk}/dispute/", {"reason": "  "}).content.decode()
    assert field_error(reason, "dispute-reason") == "Diga por que o cliente contesta a fatura."
    template = client.post(f"/invoices/{invoice.pk}/message/", {"template": ""}).content.decode()
    assert field_error(template, "message-template") == "Escolha um modelo."


def test_the_customers_pause_and_erasure_errors_are_beside_their_fields(tenant_a, login):
    invoice = InvoiceFactory(
        tenant=tenant_a, customer={"external_id": "C-MS", "name": "Maria Souza"}
    )
    client = login(MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user)
    url = f"/customers/{invoice.customer_id}/"
    pause = client.post(f"{url}pause/", {"until": "31/02/2027"})
    assert pause.status_code == 400
    assert field_error(pause.content.decode(), "customer-pause-until") == (
        "Informe uma data no formato dd/mm/aaaa."
    )
    erase = client.post(f"{url}erase/", {})
    assert erase.status_code == 400
    html = erase.content.decode()
    assert 'id="lgpd" open' in html
    message = re.search(r'aria-describedby="erase-confirm-errors"', html)
    assert message and "Marque a confirmação" in html.split('id="erase-confirm-errors"')[1]
    with scopes_disabled():
        invoice.customer.refresh_from_db()
    assert invoice.customer.name == "Maria Souza"


def call_outcome_error(html: str) -> str:
    """The call form's error: its outcome radios are invalid, their fieldset is described by
    the error list inside it."""
    fieldset = re.search(r'<fieldset id="call-outcome"([^>]*)>(.*?)</fieldset>', html, re.S)
    assert fieldset, "no call outcome fieldset"
    assert 'aria-describedby="call-outcome-errors"' in fieldset.group(1)
    radios = re.findall(r'<input type="radio" name="outcome"[^>]*>', fieldset.group(2))
    assert radios and all('aria-invalid="true"' in radio for radio in radios)
    assert "autofocus" in radios[0]
    error = re.search(r'id="call-outcome-errors"[^>]*>(.*?)</ul>', fieldset.group(2), re.S)
    assert error, "no error list #call-outcome-errors"
    return re.sub(r"<[^>]+>", " ", error.group(1)).strip()


@pytest.mark.parametrize("page", ["invoice", "customer"])
def test_a_call_or_note_errors_are_beside_their_fields_with_what_was_typed(
    tenant_a, agent, login, page
):
    invoice = InvoiceFactory(tenant=tenant_a)
    client = login(agent)
    url = f"/invoices/{invoice.pk}/" if page == "invoice" else f"/customers/{invoice.customer_id}/"
    call = client.post(f"{url}call/", {"outcome": "", "note": "Retornar às 15h"})
    assert call.status_code == 400
    html = call.content.decode()
    assert call_outcome_error(html) == "Escolha como foi a ligação."
    assert re.search(r'<details class="card" open><summary>Registrar uma ligação', html)
    assert ">Retornar às 15h</textarea>" in html  # the note typed stays
    no_flash_error(html)
    note = client.post(f"{url}note/", {"text": "   "})
    assert note.status_code == 400
    html = note.content.decode()
    assert field_error(html, "note-text") == "Escreva a nota."
    assert re.search(r'<details class="card" open><summary>Adicionar uma nota', html)
    assert "autofocus" in re.search(r'<textarea[^>]*id="note-text"[^>]*>', html).group(0)
    no_flash_error(html)
    with scopes_disabled():
        assert not invoice.customer.interactions.filter(kind__in=["call", "note"]).exists()
    # Right the second time: recorded, and the page says so.
    done = client.post(f"{url}call/", {"outcome": "voicemail", "note": "Retornar às 15h"})
    assert done.status_code == 302
    with scopes_disabled():
        assert invoice.customer.interactions.filter(kind="call").count() == 1


# --- past the ladder's end ---------------------------------------------------------------------


def test_an_invoice_past_the_ladders_last_step_says_fim_da_regua(tenant_a, agent, login):
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        steps = list(LadderStep.objects.filter(ladder__is_default=True, active=True))
    assert steps
    last_offset = max(s.offset_days for s in steps)
    ended = InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=last_offset + 30))
    running = InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=1))
    with scope(tenant=tenant_a):
        from collections_app.engine.explain import invoice_explain

        dated = [
            e
            for e in invoice_explain(tenant=tenant_a, invoice=ended, today=today)
            if e["active"] and e["scheduled_for"]
        ]
    last = max(dated, key=lambda e: e["scheduled_for"])
    client = login(agent)
    page = client.get("/invoices/?status=open").content.decode()
    row = page.split(f'data-invoice-row="{ended.pk}"')[1].split("</tr>")[0]
    assert "Fim da régua" in row
    assert f"última etapa: {last['step']}, em {last['scheduled_for']:%d/%m/%Y}" in row
    assert ">—<" not in row.split('data-label="Próxima etapa"')[1]
    other = page.split(f'data-invoice-row="{running.pk}"')[1].split("</tr>")[0]
    assert "Fim da régua" not in other

    detail = client.get(f"/invoices/{ended.pk}/").content.decode()
    assert "Fim da régua" in detail
    assert f"última etapa: {last['step']}, em {last['scheduled_for']:%d/%m/%Y}" in detail
    assert "Fim da régua" not in client.get(f"/invoices/{running.pk}/").content.decode()
