"""The overdue queue at work (issue 16): its badges say what its filter says, each row has days
late, last contact, the ladder's next step and its promise, dispute or agreement; the filtered
list's count and total; bulk actions through the single actions' services; a filter saved per
user; and the customer list with balances, segment, behaviour and last contact."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from collections_app.activity.agent_actions import note_record
from collections_app.engine.explain import invoice_explain
from collections_app.models import (
    FollowUpTask,
    Interaction,
    Invoice,
)
from collections_app.payments.agreements import agreement_create
from collections_app.payments.promises import promise_create
from messaging.models import Message, Template
from tenants.selectors import tenant_today
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.django_db, on_the_suite_day]

CPF = "52998224725"
CNPJ = "11222333000181"


def overdue(tenant, days: int = 10, amount="1000.00", **fields) -> Invoice:
    today = tenant_today(tenant=tenant)
    return InvoiceFactory(
        tenant=tenant, due_date=today - timedelta(days=days), amount=Decimal(amount), **fields
    )


def rows_html(client, query: str = "?status=overdue") -> str:
    return client.get(f"/invoices/{query}").content.decode()


def test_the_badge_of_an_overdue_invoice_says_what_the_filter_says(tenant_a, agent, login):
    overdue(tenant_a, days=10)
    page = rows_html(login(agent))
    assert '<option value="overdue" selected>Vencidas</option>' in page
    assert '<span class="badge late">Vencida</span>' in page
    with scopes_disabled():
        late = (tenant_today(tenant=tenant_a) - Invoice.objects.get().effective_due_date).days
    assert f"{late} dias" in page
    assert "Em aberto</span>" not in page


def test_each_row_has_last_contact_next_step_and_promise_dispute_agreement(tenant_a, agent, login):
    today = tenant_today(tenant=tenant_a)
    noted = overdue(tenant_a, days=10, customer={"external_id": "C-N", "name": "Nota Ltda"})
    promised = overdue(tenant_a, days=12)
    disputed = overdue(tenant_a, days=14, disputed=True)
    with scope(tenant=tenant_a):
        note_record(
            tenant=tenant_a, customer_id=noted.customer_id, actor=agent, text="x", invoice=noted
        )
        promise_create(
            tenant=tenant_a, invoice=promised, promised_date=today + timedelta(days=5), today=today
        )
        expected = next(
            e
            for e in invoice_explain(tenant=tenant_a, invoice=noted, today=today)
            if e["state"] == "planned" and e["active"]
        )
    page = rows_html(login(agent))
    row = page.split(f'data-invoice-row="{noted.pk}"')[1].split("</tr>")[0]
    assert "Anotação" in row or "Nota" in row
    assert today.strftime("%d/%m/%Y") in row  # the note's date
    assert expected["step"] in row and expected["scheduled_for"].strftime("%d/%m/%Y") in row
    row = page.split(f'data-invoice-row="{promised.pk}"')[1].split("</tr>")[0]
    assert (
        f'<span class="badge promise">Promessa {(today + timedelta(days=5)):%d/%m/%Y}</span>' in row
    )
    row = page.split(f'data-invoice-row="{disputed.pk}"')[1].split("</tr>")[0]
    assert '<span class="badge disputed">Contestada</span>' in row

    instalment_owner = overdue(tenant_a, days=20)
    with scope(tenant=tenant_a):
        agreement_create(
            tenant=tenant_a,
            customer=instalment_owner.customer,
            invoices=[instalment_owner],
            instalments=2,
            first_due_date=today + timedelta(days=3),
            today=today,
        )
    page = rows_html(login(agent), "?status=open")
    assert '<span class="badge agreement">Parcela de acordo</span>' in page


def test_the_count_and_total_of_the_filtered_list_are_above_it(tenant_a, agent, login):
    for amount in ("100.00", "200.00", "300.50"):
        overdue(tenant_a, amount=amount)
    InvoiceFactory(tenant=tenant_a, amount=Decimal("999.00"))  # due today: not overdue
    page = rows_html(login(agent))
    assert "<strong>3</strong> faturas · <strong>R$ 600,50</strong> em aberto" in page


def queries_for(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/invoices/?status=overdue").status_code == 200
    return len(ctx.captured_queries)


def test_the_queue_queries_do_not_grow_with_its_rows(
    tenant_a, agent, login, django_assert_max_num_queries
):
    client = login(agent)
    client.get("/invoices/?status=overdue")  # the filter is saved once; then only read
    for i in range(2):
        invoice = overdue(tenant_a, days=5 + i)
        with scope(tenant=tenant_a):
            note_record(
                tenant=tenant_a,
                customer_id=invoice.customer_id,
                actor=agent,
                text="n",
                invoice=invoice,
            )
    few = queries_for(client)
    for i in range(20):
        overdue(tenant_a, days=8 + i)
    assert queries_for(client) == few
    with django_assert_max_num_queries(20):
        client.get("/invoices/?status=overdue")


def test_bulk_assign_pause_and_message_go_through_the_single_services(tenant_a, agent, login):
    today = tenant_today(tenant=tenant_a)
    one, two = overdue(tenant_a), overdue(tenant_a, days=11)
    client = login(agent)
    ids = [one.pk, two.pk]

    response = client.post(
        "/invoices/bulk/", {"action": "assign", "ids": ids, "assignee": agent.pk}, follow=True
    )
    assert "2 tarefas de acompanhamento criadas." in response.content.decode()
    with scopes_disabled():
        tasks = FollowUpTask.objects.filter(invoice_id__in=ids)
        assert sorted(t.invoice_id for t in tasks) == ids
        assert {t.assignee_id for t in tasks} == {agent.pk}
        assert Interaction.objects.filter(invoice_id__in=ids, kind="task").count() == 2

    until = today + timedelta(days=7)
    response = client.post(
        "/invoices/bulk/", {"action": "pause", "ids": ids, "until": until.isoformat()}, follow=True
    )
    assert "Lembretes pausados em 2 faturas." in response.content.decode()
    with scopes_disabled():
        assert set(Invoice.objects.filter(pk__in=ids).values_list("paused_until", flat=True)) == {
            until
        }
        pauses = Interaction.objects.filter(
            invoice_id__in=ids, data__paused_until=until.isoformat()
        )
        assert pauses.count() == 2

    with scopes_disabled():
        template = Template.objects.filter(tenant=tenant_a, channel="email").first()
    response = client.post(
        "/invoices/bulk/", {"action": "message", "ids": ids, "template": template.pk}, follow=True
    )
    assert "2 mensagens na fila." in response.content.decode()
    with scopes_disabled():
        assert Message.objects.filter(tenant=tenant_a, purpose="manual").count() == 2


def test_bulk_refuses_another_tenants_ids_and_a_viewer(tenant_a, tenant_b, agent, viewer, login):
    mine = overdue(tenant_a)
    theirs = overdue(tenant_b)
    client = login(agent)
    today = tenant_today(tenant=tenant_a)
    response = client.post(
        "/invoices/bulk/",
        {"action": "pause", "ids": [mine.pk, theirs.pk], "until": today.isoformat()},
        follow=True,
    )
    assert "Algumas das faturas selecionadas não existem." in response.content.decode()
    with scopes_disabled():
        assert Invoice.objects.get(pk=mine.pk).paused_until is None
        assert Invoice.objects.get(pk=theirs.pk).paused_until is None
    assert (
        login(viewer)
        .post("/invoices/bulk/", {"action": "pause", "ids": [mine.pk], "until": today})
        .status_code
        == 403
    )


def test_the_queue_remembers_each_users_last_filter_after_logout(tenant_a, agent, owner, login):
    client = login(agent)
    client.get("/invoices/?status=paid&sort=-amount&q=acme")
    client.logout()
    page = login(agent).get("/invoices/").content.decode()
    assert '<option value="paid" selected>' in page
    assert '<option value="-amount" selected>' in page
    assert 'value="acme"' in page
    # Another user keeps the default.
    assert '<option value="overdue" selected>' in login(owner).get("/invoices/").content.decode()


def test_the_customer_list_has_balances_segment_behaviour_and_last_contact(
    tenant_a, tenant_b, agent, login
):
    a = overdue(
        tenant_a, amount="500.00", customer={"external_id": "A", "name": "Ana", "document": CPF}
    )
    InvoiceFactory(tenant=tenant_a, amount=Decimal("250.00"), customer={"external_id": "A"})
    overdue(
        tenant_a,
        amount="900.00",
        customer={"external_id": "B", "name": "Beto SA", "document": CNPJ},
    )
    overdue(tenant_b, amount="7.00", customer={"external_id": "Z", "name": "Outra"})
    with scope(tenant=tenant_a):
        note_record(tenant=tenant_a, customer_id=a.customer_id, actor=agent, text="ligar")
    client = login(agent)
    page = client.get("/customers/").content.decode()
    assert "Outra" not in page
    assert page.index("Beto SA") < page.index("Ana")  # the largest overdue amount first
    ana = page.split(f'data-customer-row="{a.customer_id}"')[1].split("</tr>")[0]
    assert "529.982.247-25" in ana
    assert "R$ 750,00" in ana and "R$ 500,00" in ana
    assert "Régua padrão" in ana or "padrão" in ana
    assert tenant_today(tenant=tenant_a).strftime("%d/%m/%Y") in ana
    assert f'href="/customers/{a.customer_id}/"' in ana
    assert "11.222.333/0001-81" in page

    page = client.get("/customers/?sort=name").content.decode()
    assert page.index("Ana") < page.index("Beto SA")
    page = client.get("/customers/?q=11.222.333/0001-81").content.decode()
    assert "Beto SA" in page and "Ana</a>" not in page
    page = client.get("/customers/?q=an").content.decode()
    assert "Ana</a>" in page and "Beto SA" not in page


def test_the_customer_page_shows_the_open_balance_and_the_document(tenant_a, agent, login):
    a = overdue(
        tenant_a, amount="500.00", customer={"external_id": "A", "name": "Ana", "document": CPF}
    )
    InvoiceFactory(tenant=tenant_a, amount=Decimal("250.00"), customer={"external_id": "A"})
    page = login(agent).get(f"/customers/{a.customer_id}/").content.decode()
    block = page.split("data-customer-balance>")[1].split("</p>")[0]
    assert "529.982.247-25" in block
    assert "Saldo em aberto" in block and "R$ 750,00" in block
    assert "R$ 500,00" in block


def test_the_menu_links_the_customer_list(tenant_a, agent, login):
    page = login(agent).get("/").content.decode()
    assert '<a href="/customers/">Clientes</a>' in page
