from datetime import date, time

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scope

from collections_app.calendar import BusinessCalendar
from collections_app.engine.message_context import VARIABLES
from collections_app.models import Ladder
from messaging.models import Template
from messaging.templating import TemplateRenderError, template_render
from tenants.models import ApiKey, Membership, Tenant
from tenants.services import api_key_authenticate, api_key_revoke

pytestmark = pytest.mark.django_db


def test_create_tenant_with_options_and_default_ladder(capsys):
    call_command(
        "create_tenant",
        "escola",
        "--name",
        "Escola Sol",
        "--owner-email",
        "dona@escola.com",
        "--password",
        "senha-segura-123",
        "--timezone",
        "America/Manaus",
        "--send-window",
        "09:00-18:30",
        "--send-days",
        "mon,wed,fri",
    )
    tenant = Tenant.objects.get(slug="escola")
    assert tenant.timezone == "America/Manaus"
    assert (tenant.send_window_start, tenant.send_window_end) == (time(9), time(18, 30))
    assert tenant.send_days == "mon,wed,fri"
    assert Membership.objects.get(tenant=tenant).role == "owner"
    with scope(tenant=tenant):
        ladder = Ladder.objects.get()
        steps = [(s.offset_days, s.kind, s.channels, s.channel_mode) for s in ladder.steps.all()]
        keys = set(Template.objects.values_list("key", "channel"))
        assert ladder.is_default and ladder.segments.count() == 0
    assert steps == [
        (-5, "message", ["email"], "fallback"),
        (-1, "message", ["email"], "fallback"),
        (0, "message", ["whatsapp", "sms", "email"], "fallback"),
        (3, "message", ["email", "whatsapp"], "all"),
        (7, "message", ["whatsapp", "sms"], "all"),
        (15, "task", [], "fallback"),
    ]
    assert ("thank_you", "email") in keys and ("due_today", "sms") in keys


@pytest.mark.parametrize(
    "args, message",
    [
        (["--send-window", "20:00-08:00"], "must end after"),
        (["--send-days", "funday"], "Send days"),
        (["--timezone", "Mars/Base"], "Unknown timezone"),
    ],
)
def test_create_tenant_refuses_bad_options_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_tenant", "x", "--name", "X", "--owner-email", "x@x.com", *args)
    assert not Tenant.objects.exists()


def test_create_api_key_prints_the_key_alone_on_the_last_line(tenant_a, capsys):
    call_command("create_api_key", tenant_a.slug, "--name", "erp")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    key = api_key_authenticate(raw)
    assert key is not None and key.name == "erp"
    assert raw not in ApiKey.objects.get().key_hash  # only the hash is stored
    api_key_revoke(tenant=tenant_a, key=key)
    assert api_key_authenticate(raw) is None


def test_run_ladders_refuses_a_bad_date(tenant_a):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_ladders", "--date", "02/12/2026")
    with pytest.raises(CommandError, match="No tenant"):
        call_command("run_ladders", "--tenant", "nope")


@pytest.mark.clock("2026-12-03T10:00-03:00")
def test_run_ladders_warns_that_another_date_sends_for_real(tenant_a, capsys):
    call_command("run_ladders", "--date", "2026-12-04")
    err = capsys.readouterr().err
    assert "--date 04/12/2026 is not today for tenant-a (03/12/2026)" in err
    assert "sent for real" in err and "--dry-run" in err

    for args in (["--date", "2026-12-04", "--dry-run"], ["--date", "2026-12-03"], []):
        call_command("run_ladders", *args)
        assert capsys.readouterr().err == "", args


def test_business_calendar_knows_bank_holidays():

    cal = BusinessCalendar(state="SP")
    assert not cal.is_business_day(date(2026, 2, 16))  # Carnaval Monday
    assert not cal.is_business_day(date(2026, 2, 17))  # Carnaval Tuesday
    assert cal.is_business_day(date(2026, 2, 18))  # Ash Wednesday: banks open at noon
    assert not cal.is_business_day(date(2026, 4, 3))  # Good Friday
    assert not cal.is_business_day(date(2026, 6, 4))  # Corpus Christi
    assert not cal.is_business_day(date(2026, 7, 9))  # São Paulo state holiday
    assert BusinessCalendar().is_business_day(date(2026, 7, 9))
    assert cal.effective_due_date(date(2026, 2, 14)) == date(2026, 2, 18)
    assert cal.add_business_days(date(2026, 4, 2), 1) == date(2026, 4, 6)


def test_every_default_template_renders_with_the_documented_variables(tenant_a):

    sample = {name: value for name, (_desc, value) in VARIABLES.items()}
    with scope(tenant=tenant_a):
        templates = list(Template.objects.all())
    assert len(templates) == 10
    for template in templates:
        body = template_render(template.body, sample)
        assert "Maria Souza" in body or template.channel == "sms"
        assert "R$ 1.234,50" in body or "R$ 0,00" in body
        if template.channel == "sms":
            assert template.body.isascii()  # stays within GSM-7: one segment costs less


def test_template_injection_is_refused():

    for payload in (
        "{{ ''.__class__.__mro__ }}",
        "{{ customer_name.upper() }}",
        "{{ customer_name['x'] }}",
        "{% for x in y %}{% endfor %}",
    ):
        with pytest.raises(TemplateRenderError):
            template_render(payload, {"customer_name": "Maria"})
