"""`seed_demo`: the demo tenant a newcomer logs into must look like a live portfolio, be built
through the real services (payments as history, reminders by the engine) and be safe to run
again at every `make run`."""

import io
import random
import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Sum
from django_scopes import scope

from collections_app.documents import document_normalize
from collections_app.management.commands import seed_demo
from collections_app.models import (
    Customer,
    Dispatch,
    FollowUpTask,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentSource,
)
from messaging.models import Message, MessagePurpose, MessageStatus, ProviderAccount
from tenants.models import Membership, Role, Tenant

TODAY = date(2026, 11, 25)
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def _seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _counts(tenant: Tenant) -> dict[str, int]:
    with scope(tenant=tenant):
        models = (Customer, Invoice, Payment, Message, Dispatch, Interaction, FollowUpTask)
        counts = {model.__name__: model.objects.count() for model in models}
    counts["tenants"] = Tenant.objects.count()
    counts["memberships"] = Membership.objects.count()
    return counts


@pytest.mark.django_db
def test_seed_demo_builds_a_live_portfolio_and_is_safe_to_rerun(client):
    output = _seed("--today", TODAY.isoformat())

    tenant = Tenant.objects.get(slug="demo")
    assert tenant.timezone == "America/Sao_Paulo" and tenant.send_days == "mon,tue,wed,thu,fri,sat"
    assert tenant.last_evaluated_on == TODAY
    roles = dict(Membership.objects.filter(tenant=tenant).values_list("user__email", "role"))
    assert roles == {"demo@regua.local": Role.OWNER, "agente@regua.local": Role.AGENT}
    assert "demo@regua.local / demo-regua-2026" in output
    # The first `make run` waits on the seed: it says what it is doing, step by step.
    steps = re.findall(r"^  \[ *\d+\.\d s\] (.+)…$", output, re.MULTILINE)
    assert [s.split()[0] for s in steps] == [
        "Creating", "100", "2254", "Replaying", "Calls,", "Dashboard"
    ], output  # fmt: skip

    with scope(tenant=tenant):
        assert Customer.objects.count() == 100
        invoices = Invoice.objects.all()
        assert invoices.count() > 2000

        paid = invoices.filter(status=InvoiceStatus.PAID)
        open_ = invoices.filter(status=InvoiceStatus.OPEN)
        assert paid.exists()
        assert open_.filter(effective_due_date__lt=TODAY).exists()  # overdue
        assert open_.filter(effective_due_date__gte=TODAY).exists()  # not yet due
        assert not open_.filter(payments__isnull=False).exists()
        # Every paid invoice was paid in full through one imported payment, never after today.
        assert Payment.objects.count() == paid.count()
        assert not paid.filter(payments__isnull=True).exists()
        assert not paid.annotate(s=Sum("payments__amount")).exclude(s=F("amount")).exists()
        assert set(Payment.objects.values_list("source", flat=True)) == {PaymentSource.IMPORT}
        assert not paid.filter(paid_on__gt=TODAY).exists()
        assert not paid.filter(days_late__isnull=True).exists()
        assert paid.filter(days_late__gt=0).exists() and paid.filter(days_late=0).exists()
        # Disputes only matter, and are only marked, on what is still open.
        assert not paid.filter(disputed=True).exists()

        # History is not news: no thank-you, however recent the payment.
        assert not Message.objects.filter(purpose=MessagePurpose.THANK_YOU).exists()
        sent = Message.objects.filter(purpose=MessagePurpose.REMINDER, status=MessageStatus.SENT)
        assert sent.exists()
        assert not Message.objects.filter(status=MessageStatus.QUEUED).exists()
        # Sent on the replayed days (not all stamped "now"), inside the send window.
        sent_local = [m.sent_at.astimezone(SAO_PAULO) for m in sent]
        assert len({moment.date() for moment in sent_local}) > 5
        assert all(moment.date() <= TODAY for moment in sent_local)
        # Some invoices were reminded first and paid afterwards.
        assert paid.filter(message_links__message__status=MessageStatus.SENT).exists()
        assert Dispatch.objects.exists()

        # The agent's own work is on the timeline and in their task list.
        agent_kinds = set(
            Interaction.objects.filter(actor__email="agente@regua.local").values_list(
                "kind", flat=True
            )
        )
        assert {InteractionKind.CALL, InteractionKind.NOTE, InteractionKind.PROMISE} <= agent_kinds
        promise = Interaction.objects.get(kind=InteractionKind.PROMISE)
        assert date.fromisoformat(promise.data["date"]) > TODAY
        assert FollowUpTask.objects.filter(assignee__email="agente@regua.local").count() >= 2

        # Realistic, valid contact data.
        customers = list(Customer.objects.all())
        for customer in customers:
            assert document_normalize(customer.document) == customer.document
            assert customer.email.endswith("@exemplo.com.br")
            if customer.phone:
                assert phonenumbers.is_valid_number(phonenumbers.parse(customer.phone))
        documents = [c.document for c in customers]
        assert 15 <= sum(len(d) == 14 for d in documents) <= 45  # CNPJ ~30 %
        assert any(not c.phone for c in customers)
        assert any(c.opted_out_channels == ["sms"] for c in customers)
        assert Customer.objects.annotate(n=Count("invoices")).filter(n=0).count() == 0

        # Made-up customers never reach a real provider.
        providers = set(ProviderAccount.objects.values_list("channel", "provider"))
        assert providers == {("email", "console"), ("sms", "console"), ("whatsapp", "console")}

    # `make run` seeds at every start: with data there it changes nothing and succeeds.
    before = _counts(tenant)
    assert "nothing changed" in _seed("--if-empty")
    assert _counts(tenant) == before
    with pytest.raises(CommandError, match="already exists"):
        _seed("--today", TODAY.isoformat())
    assert _counts(tenant) == before

    # The login the README and the Makefile print works.
    user = authenticate(email="demo@regua.local", password="demo-regua-2026")
    assert user is not None
    assert client.login(email="agente@regua.local", password="demo-regua-2026")


@pytest.mark.django_db
def test_seed_demo_without_the_csv_uses_the_synthetic_portfolio(monkeypatch):
    monkeypatch.setattr(seed_demo, "source_csv_path", lambda: Path("/nonexistent/ar.csv"))
    output = _seed("--slug", "demo-sintetico", "--today", TODAY.isoformat())

    assert "synthetic portfolio" in output
    tenant = Tenant.objects.get(slug="demo-sintetico")
    with scope(tenant=tenant):
        assert Customer.objects.count() == 100
        assert 2200 <= Invoice.objects.count() <= 2600
        open_ = Invoice.objects.filter(status=InvoiceStatus.OPEN)
        assert open_.filter(effective_due_date__lt=TODAY).exists()
        assert open_.filter(effective_due_date__gte=TODAY).exists()
        assert Payment.objects.count() == Invoice.objects.filter(status="paid").count() > 1500
        assert Message.objects.filter(status=MessageStatus.SENT).exists()
        assert not Message.objects.filter(purpose=MessagePurpose.THANK_YOU).exists()


def test_synthetic_portfolio_is_deterministic_and_shaped_like_the_sample():
    rows = seed_demo.synthetic_rows(random.Random(42))
    assert rows == seed_demo.synthetic_rows(random.Random(42))
    assert len({r.customer_id for r in rows}) == 100
    assert 2200 <= len(rows) <= 2600
    assert len({r.invoice_number for r in rows}) == len(rows)
    assert all(len(r.invoice_number) == 10 and r.invoice_number.isdigit() for r in rows)
    assert all((r.due_date - r.issue_date).days == 30 for r in rows)
    late_share = sum(r.days_late > 0 for r in rows) / len(rows)
    assert 0.15 <= late_share <= 0.5


@pytest.mark.django_db
def test_seed_demo_refuses_a_future_today_and_a_bad_date():
    with pytest.raises(CommandError, match="after today"):
        _seed("--today", "2999-01-01")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        _seed("--today", "25/11/2026")
    assert not Tenant.objects.exists()
