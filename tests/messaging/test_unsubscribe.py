"""E-mail's HTML part and its one-click unsubscribe (List-Unsubscribe, RFC 8058)."""

import re
from datetime import date

import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.models import Customer, Interaction, InteractionKind
from messaging.models import Message, MessageStatus
from messaging.sending import message_send
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory
from tests.fakes import FakeProvider, sendgrid_answer
from tests.messaging.factories import ProviderAccountFactory

pytestmark = [pytest.mark.django_db, on_the_suite_day]  # its days are written for 2026-12-02
DAY = date(2026, 12, 2)


@pytest.fixture
def emailed(tenant_a, settings):
    """An e-mail reminder sent through the tenant's SendGrid account (a loopback fake):
    (the message, the JSON SendGrid received)."""
    with FakeProvider(sendgrid_answer) as fake:
        settings.SENDGRID_API_HOST = fake.url
        ProviderAccountFactory(
            tenant=tenant_a, provider="sendgrid", credentials={"api_key": "SG.x"}
        )
        InvoiceFactory(
            tenant=tenant_a,
            due_date=DAY,
            amount="1234.50",
            customer={"external_id": "E", "name": "Ana & <Filhos>", "email": "ana@ex.com"},
        )
        with scope(tenant=tenant_a):
            ladder_evaluate(tenant=tenant_a, today=DAY)
            message = Message.objects.get()
            assert message_send(tenant=tenant_a, message_id=message.pk).status == "sent"
        [request] = fake.requests
    return message, request.json()


def unsubscribe_path(mail: dict) -> str:
    header = mail["headers"]["List-Unsubscribe"]
    return re.fullmatch(r"<https?://[^/]+(/u/[^>]+/)>", header).group(1)


def test_the_email_has_an_escaped_html_part_with_the_payment_link(emailed):
    message, mail = emailed
    text, html = (c["value"] for c in mail["content"])
    assert "Ana & <Filhos>" in text
    assert "Ana &amp; &lt;Filhos&gt;" in html and "<Filhos>" not in html
    link = re.search(r"https?://\S+/p/\S+", text).group(0)
    assert f'<a href="{link.replace("&", "&amp;")}">' in html or f'<a href="{link}">' in html
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_path(mail).startswith("/u/")


def test_one_click_unsubscribe_opts_the_customer_out_of_email_once(tenant_a, emailed):
    message, mail = emailed
    path = unsubscribe_path(mail)
    for _ in range(2):  # a mail client may POST twice
        response = Client().post(path, {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    with scopes_disabled():
        customer = Customer.objects.get(external_id="E")
        entries = list(
            Interaction.objects.filter(customer=customer, kind=InteractionKind.OPT_OUT).values_list(
                "summary", flat=True
            )
        )
    assert customer.opted_out_channels == ["email"]
    assert entries == ["email: ana@ex.com pediu para não receber mais (link de descadastro)"]


def test_a_person_confirms_on_the_page(tenant_a, emailed):
    _message, mail = emailed
    path = unsubscribe_path(mail)
    page = Client().get(path)
    assert page.status_code == 200 and page["X-Robots-Tag"] == "noindex"
    assert "ana@ex.com" in page.content.decode()
    with scopes_disabled():
        assert Customer.objects.get(external_id="E").opted_out_channels == []
    done = Client().post(path).content.decode()
    assert "data-unsubscribed" in done
    with scopes_disabled():
        assert Customer.objects.get(external_id="E").opted_out_channels == ["email"]


def test_a_forged_or_unknown_link_is_404(emailed):
    _message, mail = emailed
    path = unsubscribe_path(mail)
    assert Client().post(path[:-3] + "xx/", {"List-Unsubscribe": "One-Click"}).status_code == 404
    assert Client().get("/u/not-a-token/").status_code == 404


def test_after_unsubscribing_the_next_email_is_cancelled_before_it_leaves(tenant_a, emailed):
    message, mail = emailed
    InvoiceFactory(tenant=tenant_a, due_date=DAY.replace(day=4), customer={"external_id": "E"})
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY.replace(day=3))  # its D-1 e-mail
    Client().post(unsubscribe_path(mail), {"List-Unsubscribe": "One-Click"})
    with scopes_disabled():
        queued = Message.objects.filter(status=MessageStatus.QUEUED).exclude(pk=message.pk)
        ids = list(queued.values_list("pk", flat=True))
    assert len(ids) == 1
    with scope(tenant=tenant_a):
        assert message_send(tenant=tenant_a, message_id=ids[0]).status == "cancelled"
