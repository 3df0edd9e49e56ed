"""The "Envios com problema" page, a person's check of an `unknown` send, the monitoring counts
(`/metrics`) and the log levels of the moves an operator alerts on: admins and owners see the
page, agents and viewers neither see it nor its card; another tenant's messages never show;
the counts are right across tenants, the format parses and the token is required."""

import logging
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django_scopes import scope, scopes_disabled

from collections_app.models import Interaction, InteractionKind
from messaging.attention import RESOLVED_NOT_SENT_ERROR, message_state_counts
from messaging.models import Message, MessageStatus
from tenants.models import Role
from tests.messaging.problem_messages import (
    INVALID,
    TIMEOUT,
    UNAVAILABLE,
    claimed,
    failed_message,
    move,
    queued_message,
    stuck_message,
    unknown_message,
)
from tests.tenants.factories import MembershipFactory

pytestmark = [pytest.mark.django_db]

URL = "/settings/messages/problems/"


@pytest.fixture
def admin(tenant_a):
    return MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user


@pytest.fixture
def problems(tenant_a):
    """One message of tenant A in each state the page lists, and one that went well."""
    unknown, invoice = unknown_message(tenant_a, recipient="+5511911110001")
    failed, _ = failed_message(tenant_a, recipient="+5511911110002")
    stuck, _ = stuck_message(tenant_a, recipient="maria@example.com", channel="email")
    fine, _ = queued_message(tenant_a, recipient="+5511911110004")
    move(claimed(fine), MessageStatus.SENT, provider="twilio_sms", provider_message_id="SMok")
    return {"unknown": unknown, "failed": failed, "stuck": stuck, "fine": fine, "invoice": invoice}


def rows(html: str) -> int:
    return html.count("data-message-row=")


def test_the_admin_sees_each_problem_with_its_reason_and_the_counts(login, admin, problems):
    response = login(admin).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert rows(html) == 3
    assert f'data-message-row="{problems["fine"].pk}"' not in html
    # Newest first: the stuck one was created last of the three.
    order = [html.index(f'data-message-row="{problems[k].pk}"') for k in ("stuck", "failed")]
    assert order == sorted(order)
    # The reason, the provider, the reference to look it up, the state in words, the invoice.
    assert "21211" in html and "read timeout" in html
    assert "Twilio SMS" in html and problems["unknown"].ref in html
    assert "Envio a confirmar" in html and "Envio interrompido" in html and "Falhou" in html
    assert reverse("invoice_detail", args=[problems["invoice"].pk]) in html
    assert "Marcar como não enviada (reenviar uma vez)" in html
    for state in ("unknown", "stuck", "failed"):
        assert f'data-count="{state}"><strong>1</strong>' in html
    assert 'data-count="undelivered"><strong>0</strong>' in html


def test_filters_by_state_and_channel(login, admin, problems):
    client = login(admin)
    html = client.get(URL, {"state": "unknown"}).content.decode()
    assert rows(html) == 1 and f'data-message-row="{problems["unknown"].pk}"' in html
    html = client.get(URL, {"channel": "email"}).content.decode()
    assert rows(html) == 1 and f'data-message-row="{problems["stuck"].pk}"' in html
    # An unknown filter is ignored, not an error.
    assert rows(client.get(URL, {"state": "nope", "channel": "fax"}).content.decode()) == 3


def test_an_old_failure_leaves_the_list_but_an_unknown_one_stays(login, admin, tenant_a, problems):
    with scopes_disabled():
        Message.objects.filter(pk__in=[problems["failed"].pk, problems["unknown"].pk]).update(
            created_at=timezone.now() - timedelta(days=31)
        )
    html = login(admin).get(URL).content.decode()
    assert f'data-message-row="{problems["failed"].pk}"' not in html
    assert f'data-message-row="{problems["unknown"].pk}"' in html


def test_the_list_is_paginated(login, admin, tenant_a):
    for n in range(51):
        failed_message(tenant_a, recipient=f"+55119{n:08d}")
    client = login(admin)
    assert rows(client.get(URL).content.decode()) == 50
    assert rows(client.get(URL, {"page": 2}).content.decode()) == 1


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_agents_and_viewers_are_refused_and_see_no_card(login, tenant_a, problems, role):
    user = MembershipFactory(tenant=tenant_a, role=role).user
    client = login(user)
    assert client.get(URL).status_code == 403
    message = problems["unknown"]
    answer = client.post(reverse("message_resolve", args=[message.pk]), {"outcome": "sent"})
    assert answer.status_code == 403
    with scopes_disabled():
        assert Message.objects.get(pk=message.pk).status == MessageStatus.UNKNOWN
    assert URL not in client.get("/settings/").content.decode()


def test_the_owner_sees_the_card(login, owner):
    assert URL in login(owner).get("/settings/").content.decode()


def test_another_tenants_problems_never_show(login, admin, tenant_b, problems):
    theirs, _ = unknown_message(tenant_b, recipient="+5521988887777")
    html = login(admin).get(URL).content.decode()
    assert "+5521988887777" not in html and f'data-message-row="{theirs.pk}"' not in html
    assert 'data-count="unknown"><strong>1</strong>' in html


def test_marked_as_sent_by_a_person_is_on_the_timeline_with_who(login, admin, problems):
    message = problems["unknown"]
    client = login(admin)
    answer = client.post(
        reverse("message_resolve", args=[message.pk]), {"outcome": "sent", "state": "unknown"}
    )
    assert answer.status_code == 302 and answer["Location"] == f"{URL}?state=unknown"
    with scopes_disabled():
        message.refresh_from_db()
        row = Interaction.objects.get(
            message=message, kind=InteractionKind.MESSAGE_STATUS, data__to="sent"
        )
    assert message.status == MessageStatus.SENT and message.error == ""
    assert row.actor == admin and row.data["by_person"] is True and row.data["from"] == "unknown"
    page = client.get(reverse("invoice_detail", args=[problems["invoice"].pk])).content.decode()
    assert "Marcada como enviada após verificação no provedor" in page
    assert admin.email in page
    # Settled: it left the list, and a second click changes nothing.
    assert f'data-message-row="{message.pk}"' not in client.get(URL).content.decode()
    again = client.post(
        reverse("message_resolve", args=[message.pk]), {"outcome": "not_sent"}, follow=True
    )
    assert "já foi resolvida" in again.content.decode()
    with scopes_disabled():
        assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT


def test_marked_as_not_sent_goes_once_more(
    login, admin, problems, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "messaging.attention.messages_enqueue",
        lambda *, tenant, message_ids: queued.append((tenant.pk, message_ids)),
    )
    message = problems["unknown"]
    answer = login(admin).post(
        reverse("message_resolve", args=[message.pk]), {"outcome": "not_sent"}
    )
    assert answer.status_code == 302
    with scopes_disabled():
        message.refresh_from_db()
        row = Interaction.objects.get(
            message=message, kind=InteractionKind.MESSAGE_STATUS, data__to="queued"
        )
    assert message.status == MessageStatus.QUEUED and message.error == RESOLVED_NOT_SENT_ERROR
    assert queued == [(message.tenant_id, [message.pk])]
    assert row.actor == admin and row.data["by_person"] is True


def test_a_resolution_needs_an_outcome_and_an_unknown_message(login, admin, problems):
    client = login(admin)
    failed = problems["failed"]
    assert client.post(reverse("message_resolve", args=[failed.pk]), {}).status_code == 400
    client.post(reverse("message_resolve", args=[failed.pk]), {"outcome": "sent"})
    with scopes_disabled():
        assert Message.objects.get(pk=failed.pk).status == MessageStatus.FAILED
    assert client.get(reverse("message_resolve", args=[failed.pk])).status_code == 405


def test_another_tenants_message_cannot_be_resolved(login, admin, tenant_b):
    theirs, _ = unknown_message(tenant_b)
    answer = login(admin).post(reverse("message_resolve", args=[theirs.pk]), {"outcome": "sent"})
    assert answer.status_code == 404
    with scopes_disabled():
        assert Message.objects.get(pk=theirs.pk).status == MessageStatus.UNKNOWN


# --- Monitoring ------------------------------------------------------------------------------

# Prometheus's text exposition format 0.0.4, as its specification writes it: comment lines
# `# HELP name text` and `# TYPE name type`, samples `name{label="value",…} value`.
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
HELP = re.compile(rf"# HELP ({NAME}) (.*)")
TYPE = re.compile(rf"# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)")
SAMPLE = re.compile(
    rf'({NAME})(?:\{{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\}})? '
    r"(-?[0-9.]+(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)"
)


def parse_exposition(text: str) -> dict[str, dict]:
    """name → {"type", "help", "samples": [(labels, value)]}; any line out of the grammar, a
    sample before its TYPE, or a family declared twice fails the test."""
    assert text.endswith("\n"), "the exposition ends with a line feed"
    families: dict[str, dict] = {}
    for line in text.splitlines():
        if m := HELP.fullmatch(line):
            families.setdefault(m[1], {"samples": []})["help"] = m[2]
        elif m := TYPE.fullmatch(line):
            assert "type" not in families.get(m[1], {}), f"{m[1]} typed twice"
            families.setdefault(m[1], {"samples": []})["type"] = m[2]
        elif m := SAMPLE.fullmatch(line):
            assert "type" in families.get(m[1], {}), f"{m[1]}: a sample before its TYPE"
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', m[2] or ""))
            families[m[1]]["samples"].append((labels, float(m[3])))
        else:
            raise AssertionError(f"not Prometheus text format: {line!r}")
    return families


@pytest.fixture
def every_state(tenant_a, tenant_b):
    """Across two tenants: 2 queued, 1 sending (fresh), 1 stuck, 2 unknown, 1 failed today,
    1 failed two days ago, 1 sent."""
    queued_message(tenant_a)
    queued_message(tenant_b)
    claimed(queued_message(tenant_a)[0])
    stuck_message(tenant_b)
    unknown_message(tenant_a)
    old_unknown, _ = unknown_message(tenant_b)
    failed_message(tenant_a)
    old, _ = failed_message(tenant_b)
    move(claimed(queued_message(tenant_a)[0]), MessageStatus.SENT, provider="console")
    with scopes_disabled():
        Message.objects.filter(pk=old.pk).update(failed_at=timezone.now() - timedelta(days=2))
        Message.objects.filter(pk=old_unknown.pk).update(
            created_at=timezone.now() - timedelta(hours=3)
        )


def test_the_counts_across_tenants_in_one_query(every_state, django_assert_num_queries):
    with django_assert_num_queries(1):
        counts = message_state_counts(now=timezone.now())
    assert (counts.queued, counts.sending, counts.stuck, counts.unknown) == (2, 2, 1, 2)
    assert (counts.failed_24h, counts.undelivered_24h) == (1, 0)
    assert 3 * 3600 <= counts.oldest_unknown_seconds < 3 * 3600 + 60


def test_metrics_parse_as_prometheus_text(client, settings, every_state):
    settings.METRICS_TOKEN = "s3nha-de-metricas"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3nha-de-metricas")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = parse_exposition(response.content.decode())
    by_state = {labels["state"]: value for labels, value in families["regua_messages"]["samples"]}
    assert by_state == {
        "queued": 2,
        "sending": 2,
        "stuck": 1,
        "unknown": 2,
        "failed": 1,
        "undelivered": 0,
    }
    assert families["regua_messages"]["type"] == "gauge"
    [(labels, oldest)] = families["regua_messages_unknown_oldest_seconds"]["samples"]
    assert labels == {} and oldest >= 3 * 3600


def test_metrics_refuse_without_the_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404
    settings.METRICS_TOKEN = "s3nha-de-metricas"
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3nha-errada")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3nha-de-metricas").status_code == 401
    assert client.post("/metrics", HTTP_AUTHORIZATION="Bearer s3nha-de-metricas").status_code == 405


# --- Log levels ------------------------------------------------------------------------------


def test_an_unknown_outcome_logs_an_error_and_a_retry_does_not(tenant_a, caplog):
    caplog.set_level(logging.INFO, logger="messaging.outcomes")
    retried, _ = queued_message(tenant_a)
    move(claimed(retried), MessageStatus.QUEUED, error=UNAVAILABLE)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    unknown_message(tenant_a)
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.name == "messaging.outcomes" and "outcome at the provider unknown" in error.message
    assert TIMEOUT in error.message and INVALID not in error.message


def test_a_person_settling_it_is_logged_with_who(login, admin, problems, caplog):
    caplog.set_level(logging.INFO, logger="messaging")
    login(admin).post(
        reverse("message_resolve", args=[problems["unknown"].pk]), {"outcome": "sent"}
    )
    assert any(
        f"by user {admin.pk}" in r.message and r.levelno == logging.INFO for r in caplog.records
    )


def test_scope_is_the_requesters(tenant_a, problems):
    """The page's reads run in the tenant's scope: outside of one they refuse."""
    from django_scopes.exceptions import ScopeError

    from messaging.attention import attention_counts

    with pytest.raises(ScopeError):
        attention_counts(now=timezone.now())
    with scope(tenant=tenant_a):
        assert attention_counts(now=timezone.now())["unknown"] == 1


def test_the_counts_read_the_monitoring_index_not_the_table(every_state):
    """The counts come from the partial index that holds only the open and failed messages
    (on PostgreSQL with the planner told a table scan is dear: the test's tables are tiny)."""
    from django.db import connection

    from messaging.attention import state_counts_query

    if connection.vendor != "postgresql":
        # CI runs on PostgreSQL (.ci/run); SQLite, the embedded mode, plans its own way.
        pytest.skip("the plan checked is PostgreSQL's; this run is on SQLite")
    with scopes_disabled():
        query = state_counts_query(now=timezone.now())
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = query.explain()
    assert "message_monitoring" in plan, plan


def test_regua_s_own_reasons_are_in_words_and_a_provider_s_answer_is_quoted(
    login, admin, tenant_a, problems, outbox
):
    """An unknown send the provider could not settle is handed to a person with Régua's own
    note, shown translated; a provider's answer is shown as it came, marked as the provider's
    output."""
    from messaging.upkeep import NEEDS_PERSON_NOTE

    with scopes_disabled():
        Message.objects.filter(pk=problems["unknown"].pk).update(error=NEEDS_PERSON_NOTE)
    html = login(admin).get(URL).content.decode()
    assert "não será reenviada automaticamente — uma tarefa pede que alguém verifique" in html
    assert "not sent again automatically" not in html
    assert f'<samp class="provider-answer">{escape(INVALID)}</samp>' in html
