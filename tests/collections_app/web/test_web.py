"""Login with e-mail, choosing a tenant, roles, the dashboard and the debtor's page."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.models import FollowUpTask, Interaction
from collections_app.payments.services import invoice_record_payment
from messaging.models import Message
from messaging.sending import message_send
from tenants.models import Membership, Role
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 12, 2)


def test_login_with_email_and_logout(owner):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": owner.email, "password": "senha-segura-123"}
    )
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(owner):
    response = Client().post("/accounts/login/", {"username": owner.email, "password": "x"})
    assert response.status_code == 200
    assert b"errorlist" in response.content


def test_anonymous_is_sent_to_login():
    response = Client().get("/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_user_in_two_tenants_chooses_one(login, owner, tenant_a, tenant_b):
    Membership.objects.create(tenant=tenant_b, user=owner, role=Role.VIEWER)
    client = login(owner)
    assert client.get("/").url.startswith("/tenants/choose/")
    page = client.get("/tenants/choose/").content.decode()
    assert tenant_a.name in page and tenant_b.name in page
    client.post("/tenants/choose/", {"tenant": tenant_b.pk})
    assert tenant_b.name in client.get("/").content.decode()


def test_cannot_choose_a_tenant_one_is_not_member_of(login, outsider, tenant_a):
    response = login(outsider).post("/tenants/choose/", {"tenant": tenant_a.pk})
    assert response.status_code == 400


def test_dashboard_shows_metrics_and_recent_interactions(login, viewer, tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY, amount="1234.50")
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)
        message_send(tenant=tenant_a, message_id=Message.objects.get().pk)
    page = login(viewer).get("/").content.decode()
    assert "Visão geral" in page or "Overview" in page
    assert 'data-metric="recovery_rate"' in page
    assert invoice.customer.name in page


def test_dashboard_lists_open_tasks_the_users_own_first(login, agent, tenant_a):

    other = MembershipFactory(
        tenant=tenant_a, role=Role.AGENT, user__email="outra@example.com"
    ).user
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY - timedelta(days=20))
    with scopes_disabled():
        common = {"tenant": tenant_a, "customer": invoice.customer, "invoice": invoice}
        theirs = FollowUpTask.objects.create(
            title="Ligar (outra)", assignee=other, due_on=DAY - timedelta(days=5), **common
        )
        mine = FollowUpTask.objects.create(
            title="Ligar (minha)", assignee=agent, due_on=DAY, **common
        )
        nobody = FollowUpTask.objects.create(
            title="Conta grande", origin="escalation", due_on=DAY, **common
        )
        FollowUpTask.objects.create(title="Feita", status="done", due_on=DAY, **common)
    page = login(agent).get("/").content.decode()
    rows = [page.index(f'data-task="{t.pk}"') for t in (mine, nobody, theirs)]
    assert rows == sorted(rows)  # mine, then unassigned, then others'
    assert "Feita" not in page
    assert DAY.strftime("%d/%m/%Y") in page
    assert "Você" in page and "Sem responsável" in page and "outra@example.com" in page
    assert "Escalonamento" in page


def test_dashboard_speaks_portuguese_by_default_and_english_on_request(login, owner):
    client = login(owner)
    assert "Taxa de recuperação" in client.get("/").content.decode()
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Recovery rate" in english


def test_payment_page_shows_the_invoice_and_records_the_click(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY, amount="1234.50")
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)
        message = Message.objects.get()
        message_send(tenant=tenant_a, message_id=message.pk)
        message.refresh_from_db()
    link = next(w for w in message.body.split() if "/p/" in w).rstrip(".")
    path = link.split("127.0.0.1:8000", 1)[1]
    response = Client().get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert "R$ 1.234,50" in body and tenant_a.name in body
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    with scopes_disabled():
        click = Interaction.objects.get(kind="click")
    assert click.message_id == message.pk and click.invoice_id == invoice.pk


def test_payment_page_with_forged_reference_records_no_click(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY)
    response = Client().get(f"/p/{invoice.payment_token}?m=abc:forged")
    assert response.status_code == 200
    with scopes_disabled():
        assert not Interaction.objects.filter(kind="click").exists()


def test_paid_invoice_page_says_so_and_unknown_token_is_404(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY)
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=invoice.amount)
    assert "paga" in Client().get(f"/p/{invoice.payment_token}").content.decode()
    assert Client().get("/p/not-a-token").status_code == 404


def test_invoice_list_htmx_returns_the_rows_partial(login, agent, tenant_a):
    InvoiceFactory(tenant=tenant_a, external_id="ABC-1", due_date=date(2026, 10, 5))
    client = login(agent)
    full = client.get("/invoices/?status=all&q=ABC")
    partial = client.get("/invoices/?status=all&q=ABC", HTTP_HX_REQUEST="true")
    assert "<html" in full.content.decode()
    assert "<html" not in partial.content.decode() and "ABC-1" in partial.content.decode()


def test_healthz():
    assert Client().get("/healthz").json() == {"status": "ok"}
