"""Retries, reconciliations and a person's check on the invoice's timeline, in words: each move
of a message that is not the plain queued → sent → delivered shows under the message, in its
place in time, with the reason (the provider's words, or messaging's own reasons translated)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.models import Interaction, InteractionKind
from messaging.models import Message, MessageStatus
from messaging.upkeep import messages_reconcile_stuck
from tests.messaging.problem_messages import (
    TIMEOUT,
    UNAVAILABLE,
    claimed,
    move,
    queued_message,
    stuck_message,
    unknown_message,
)

pytestmark = [pytest.mark.django_db]


def timeline(client, invoice, language="pt-br") -> str:
    response = client.get(
        reverse("invoice_detail", args=[invoice.pk]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 200
    html = response.content.decode()
    return html[html.index("data-timeline") :]


def events(html: str) -> list[str]:
    """The event lines of the timeline, in order, as text."""
    import re

    return [
        re.sub(r"<[^>]+>|\s+", " ", item).strip()
        for item in re.findall(r"<li data-state=\"[a-z_]+\" data-event>(.*?)</li>", html, re.S)
    ]


def test_a_retry_shows_with_its_reason_and_the_send_after_it(tenant_a, owner, login):
    message, invoice = queued_message(tenant_a)
    move(claimed(message), MessageStatus.QUEUED, error=UNAVAILABLE)
    move(claimed(message), MessageStatus.SENT, provider="twilio_sms", sent_at=timezone.now())
    [retry] = events(timeline(login(owner), invoice))
    assert retry.startswith("Nova tentativa agendada") and UNAVAILABLE in retry
    with scopes_disabled():
        row = Interaction.objects.get(message=message, data__to="queued")
    assert row.data == {"from": "sending", "to": "queued", "error": UNAVAILABLE}
    assert row.invoice_id == invoice.pk


def test_an_unknown_outcome_then_found_at_the_provider(tenant_a, owner, login):
    message, invoice = unknown_message(tenant_a)
    client = login(owner)
    html = timeline(client, invoice)
    [uncertain] = events(html)
    assert uncertain.startswith("Resultado incerto — aguardando verificação")
    assert TIMEOUT in uncertain
    assert "Envio a confirmar" in html  # the message's state badge, in words
    move(message, MessageStatus.SENT, provider_message_id="SM123", sent_at=timezone.now())
    assert [e.split(" ")[0] for e in events(timeline(client, invoice))] == [
        "Resultado",
        "Confirmado",
    ]
    assert "Confirmado no provedor após interrupção" in events(timeline(client, invoice))[1]


def test_an_unknown_outcome_confirmed_absent_goes_once_more(tenant_a, owner, login):
    message, invoice = unknown_message(tenant_a)
    move(message, MessageStatus.QUEUED, error="Not found at the provider")
    found = events(timeline(login(owner), invoice))
    assert found[-1].startswith("Não encontrada no provedor após interrupção: reenvio único")


def test_the_upkeep_settling_a_stuck_send_says_why_in_words(tenant_a, owner, login, outbox):
    """The real upkeep asks the (console) provider, whose outbox has no record of the message:
    absent, so it is queued to be sent once more, and the timeline says so in pt-BR words
    rather than messaging's English note."""
    message, invoice = stuck_message(tenant_a)
    with scope(tenant=tenant_a):
        assert messages_reconcile_stuck(tenant=tenant_a) == 1
    with scopes_disabled():
        assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED
    html = timeline(login(owner), invoice)
    [resent] = events(html)
    assert "enviada mais uma vez" in resent
    assert "The provider confirmed" not in html


def test_a_send_found_at_the_provider_long_after_it_began_is_a_reconciliation(
    tenant_a, owner, login
):
    message, invoice = stuck_message(tenant_a)
    move(message, MessageStatus.SENT, provider_message_id="SM9", sent_at=message.sending_at)
    [found] = events(timeline(login(owner), invoice))
    assert found.startswith("Confirmado no provedor após interrupção")


def test_an_ordinary_send_has_no_event(tenant_a, owner, login):
    message, invoice = queued_message(tenant_a)
    move(claimed(message), MessageStatus.SENT, provider="console", sent_at=timezone.now())
    assert events(timeline(login(owner), invoice)) == []


def test_a_persons_check_shows_who_in_english_too(tenant_a, owner, login):
    message, invoice = unknown_message(tenant_a)
    client = login(owner)
    client.post(reverse("message_resolve", args=[message.pk]), {"outcome": "not_sent"})
    html = timeline(client, invoice, language="en")
    [uncertain, checked] = events(html)
    assert uncertain.startswith("Outcome uncertain — awaiting verification")
    assert checked.startswith("Marked as not sent after a check at the provider: sent once more")
    assert owner.email in checked
    with scopes_disabled():
        rows = Interaction.objects.filter(message=message, kind=InteractionKind.MESSAGE_STATUS)
        assert rows.filter(data__to="queued").count() == 1  # the person's row, not a second one


def test_a_failure_long_ago_keeps_its_place(tenant_a, owner, login):
    """Events sort with the states by time: the retry before the send that followed it."""
    message, invoice = queued_message(tenant_a)
    move(claimed(message), MessageStatus.QUEUED, error=UNAVAILABLE)
    later = timezone.now() + timedelta(minutes=5)
    move(claimed(message), MessageStatus.SENT, provider="console", sent_at=later)
    html = timeline(login(owner), invoice)
    assert html.index("Nova tentativa agendada") < html.index('data-state="sent">')
