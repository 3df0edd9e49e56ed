"""The CPF/CNPJ gate of the payment page counts attempts per customer and per client address
(not per invoice), and a locked gate opens again through an access link sent to the customer's
own e-mail: a stranger who uses up the attempts cannot lock the debtor out."""

import re
from datetime import timedelta
from urllib.parse import urlparse

import time_machine
from django.test import Client
from django.utils import timezone
from django_scopes import scope

from collections_app.models import Interaction
from collections_app.payments.debtor import access_token
from messaging.models import Message
from tests.collections_app.payments.test_payment_page import overdue_invoice


def _identify(client, invoice, document):
    return client.post(f"/p/{invoice.payment_token}/identify", {"document": document}, follow=True)


def _shows(client, invoice, other) -> bool:
    return other.payment_token in client.get(f"/p/{invoice.payment_token}").content.decode()


def test_each_invoice_of_the_customer_gives_no_new_attempts(tenant_a):
    first = overdue_invoice(tenant_a)
    second = overdue_invoice(tenant_a, days=40, amount="250.00")
    assert first.customer_id == second.customer_id
    for _ in range(5):
        _identify(Client(REMOTE_ADDR="203.0.113.1"), first, "00000")
    # Another address, the customer's other invoice: still locked for this customer.
    client = Client(REMOTE_ADDR="203.0.113.2")
    answer = _identify(client, second, "52998").content.decode()
    assert "Muitas tentativas" in answer
    assert not _shows(client, second, first)


def test_one_address_gets_five_attempts_whatever_the_customers(tenant_a):
    invoices = [
        overdue_invoice(tenant_a, external_id=f"C-gate-{n}", name=f"Cliente {n}") for n in range(6)
    ]
    client = Client(REMOTE_ADDR="198.51.100.9")
    for invoice in invoices[:5]:
        _identify(client, invoice, "00000")
    assert "Muitas tentativas" in _identify(client, invoices[5], "52998").content.decode()


def _sent_link(tenant, invoice) -> str:
    with scope(tenant=tenant):
        message = Message.objects.get(invoice_links__invoice=invoice)
        assert message.recipient == invoice.customer.email and message.channel == "email"
        assert Interaction.objects.filter(message=message, kind="message").exists()
    [url] = re.findall(r"https?://\S+", message.body)
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}"


def test_a_locked_gate_opens_through_a_link_sent_to_the_customers_email(tenant_a):
    invoice = overdue_invoice(tenant_a)
    other = overdue_invoice(tenant_a, days=40, amount="250.00")
    for _ in range(6):
        _identify(Client(REMOTE_ADDR="203.0.113.66"), invoice, "00000")  # a stranger
    debtor = Client(REMOTE_ADDR="192.0.2.10")
    assert "Muitas tentativas" in _identify(debtor, invoice, "52998").content.decode()
    sent = debtor.post(f"/p/{invoice.payment_token}/identify", {"send_link": "1"}, follow=True)
    assert "link de acesso" in sent.content.decode()
    link = _sent_link(tenant_a, invoice)
    assert debtor.get(link).status_code == 302
    assert _shows(debtor, invoice, other)
    # The failed attempts are cleared: typing the document works again.
    assert _shows(_identify_ok(invoice), invoice, other)


def _identify_ok(invoice) -> Client:
    client = Client(REMOTE_ADDR="192.0.2.11")
    _identify(client, invoice, "52998")
    return client


def test_a_link_for_another_customer_a_forged_one_or_an_old_one_opens_nothing(tenant_a):
    invoice = overdue_invoice(tenant_a)
    other = overdue_invoice(tenant_a, days=40, amount="250.00")
    stranger = overdue_invoice(tenant_a, external_id="C-someone", name="Outra Pessoa")
    with time_machine.travel(timezone.now() - timedelta(hours=25)):
        old = access_token(customer=invoice.customer)
    tokens = [
        access_token(customer=stranger.customer),
        old,
        access_token(customer=invoice.customer) + "x",
    ]
    for token in tokens:
        client = Client()
        answer = client.get(f"/p/{invoice.payment_token}", {"access": token}, follow=True)
        assert "não é válido" in answer.content.decode()
        assert not _shows(client, invoice, other)


def test_links_are_limited_and_go_only_to_the_customers_own_address(tenant_a):
    invoice = overdue_invoice(tenant_a)
    client = Client()
    for _ in range(4):
        client.post(f"/p/{invoice.payment_token}/identify", {"send_link": "1"})
    with scope(tenant=tenant_a):
        assert set(Message.objects.values_list("recipient", flat=True)) == {invoice.customer.email}
        assert Message.objects.count() == 3


def test_another_tenants_token_is_no_link_here(tenant_a, tenant_b):
    invoice = overdue_invoice(tenant_a)
    theirs = overdue_invoice(tenant_b, external_id="C-b")
    answer = Client().get(
        f"/p/{invoice.payment_token}",
        {"access": access_token(customer=theirs.customer)},
        follow=True,
    )
    assert "não é válido" in answer.content.decode()
