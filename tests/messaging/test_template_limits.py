"""A tenant's template cannot tie up a worker: loops, macro calls, the size of what is built and
how deep the template nests are limited — the same when it is checked before saving (API and
settings page) and when a message is sent. Ordinary templates render as before."""

import json
from datetime import date
from unittest import mock

import pytest
from django.utils.html import escape
from django_scopes import scope
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from collections_app.engine import ladder_evaluate
from collections_app.engine.defaults import DEFAULT_TEMPLATES
from collections_app.engine.message_context import VARIABLES
from messaging.models import Message, MessageStatus, Template
from messaging.sending import message_send
from messaging.tasks import send_messages
from messaging.template_budget import MAX_OUTPUT, MAX_SOURCE, TemplateLimitError
from messaging.template_check import template_check
from messaging.templating import TemplateRenderError, template_render
from tenants.models import Role
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory
from tests.messaging.factories import ProviderAccountFactory
from tests.tenants.factories import MembershipFactory

SAMPLES = {name: sample for name, (_description, sample) in VARIABLES.items()}
# A text as long as a value may get, built within the limit on `*`.
BIG = "{% set big = " + " ~ ".join(['("xy" * 5000)'] * 6) + " %}"

ATTACKS = {
    # Loops: nested, over everything a template can repeat, recursive.
    "nested loops": '{% for i in "x" * 9999 %}{% for j in "x" * 9999 %}{% endfor %}{% endfor %}',
    "nested loops writing": '{% for i in "x" * 9999 %}{% for j in "x" * 9999 %}ab{% endfor %}'
    "{% endfor %}",
    "loop over a lazy filter": '{% for i in "x" * 9999 %}{% for j in "x" | slice(999999999) %}'
    "{% endfor %}{% endfor %}",
    "recursive loop": '{% for x in "ab" recursive %}{{ loop("ab") }}{% endfor %}',
    "loop of filters": BIG + "{% for i in big %}{% set z = big|sort %}{% endfor %}",
    "loop of comparisons": BIG + '{% set other = big ~ "z" %}'
    "{% for i in big %}{% if other in big %}{% endif %}{% endfor %}",
    # Macros: endless recursion, and a bounded but exponential one.
    "recursive macro": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "exponential macro": "{% macro m(n) %}{% if n > 0 %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}"
    "{% endmacro %}{{ m(17) }}",
    "calls within calls": "{% macro m() %}{{ caller() }}{{ caller() }}{% endmacro %}"
    + "{% call m() %}" * 12
    + '{{ "y" * 9999 }}'
    + "{% endcall %}" * 12,
    # Sizes an argument decides.
    "center": '{{ "x" | center(999999999) }}',
    "repetition": '{{ "x" * 99999 }}',
    "repetition, the other way": '{{ 99999 * "x" }}',
    "repetition of a repetition": '{{ ("x" * 9999) * 9999 }}',
    "repeated list": '{{ ["x" * 9999] * 9999 }}',
    "indent": '{{ "a\\nb" | indent(999999999) }}',
    "indent by a text": '{{ ("a\\n" * 5000) | indent("x" * 9000) }}',
    "wordwrap of a long word": '{{ ("x" * 9999) | wordwrap(1) }}',
    "wordwrap with a long wrapstring": '{{ ("x " * 5000) | wordwrap(1, wrapstring="y" * 9999) }}',
    "format width": '{{ "%999999999s" | format(1) }}',
    "format width from the arguments": '{{ "%*s" | format(999999999, 1) }}',
    "formatting operator": '{{ "%0999999999d" % 1 }}',
    "join": '{{ ("x" * 9999) | join("y" * 9999) }}',
    "replace": '{{ ("x" * 9999) | replace("x", "y" * 9999) }}',
    "batch filling": '{{ "x" | batch(999999999, "y") | list }}',
    "tojson indent": "{{ [1, 2, 3] | tojson(999999999) }}",
    "urlize target": '{{ ("a.com " * 2000) | urlize(target="x" * 9999) }}',
    "trim by a long text": '{{ ("a" * 9999) | trim("b" * 9999 ~ "a") }}',
    "adding up lists": '{{ ([["x"]] * 9999) | sum(start=[]) }}',
    # Values that double: text, lists sharing themselves, numbers.
    "doubling text": '{% set a = "x" * 9999 %}' + "{% set a = a ~ a %}" * 30 + "{{ a }}",
    "doubling with +": '{% set a = "x" * 9999 %}' + "{% set a = a + a %}" * 30 + "{{ a }}",
    "doubling a list": '{% set a = ["x" * 9999] %}' + "{% set a = [a, a] %}" * 30 + "{{ a }}",
    "squaring a number": "{% set n = 99999999 %}" + "{% set n = n * n %}" * 30 + "{{ n }}",
    "a block built in a loop": '{% set x %}{% for i in "x" * 9999 %}{{ "y" * 9999 }}{% endfor %}'
    "{% endset %}{{ x }}",
    "a filter block built in a loop": '{% filter upper %}{% for i in "x" * 9999 %}'
    '{{ "y" * 9999 }}{% endfor %}{% endfilter %}',
    "output": '{% for i in "x" * 9999 %}{{ customer_name }}: {{ amount }}{% endfor %}',
    # A method reached through `attr` does not run.
    "calling a method": '{{ (customer_name | attr("center"))(999999999) }}',
}

NESTED = {
    "parentheses": "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
    "if blocks": "{% if 1 %}" * 300 + "x" + "{% endif %}" * 300,
    "loops": '{% for a in "a" %}' * 25 + "x" + "{% endfor %}" * 25,
    "a huge number": "{{ " + "9" * 5000 + " }}",
    "a huge template": "x" * (MAX_SOURCE + 1),
    "range": "{% for a in range(10**6) %}{% for b in range(10**6) %}x{% endfor %}{% endfor %}",
}


@pytest.mark.parametrize("body", ATTACKS.values(), ids=ATTACKS.keys())
def test_each_attack_is_refused_by_a_limit(body):
    for html in (False, True):
        with pytest.raises(TemplateRenderError) as refused:
            template_render(body, SAMPLES, html=html)
        assert isinstance(refused.value.__cause__, SecurityError)  # a limit, not a crash


@pytest.mark.parametrize("body", NESTED.values(), ids=NESTED.keys())
def test_too_deep_too_long_or_unknown_is_refused_before_rendering(body):
    with pytest.raises(TemplateRenderError):
        template_render(body, SAMPLES)


def test_the_text_stops_at_the_output_limit_before_it_is_built():
    # Each value is small; only the whole passes the limit.
    body = '{% for i in "x" * 9999 %}{{ "y" * 10 }}{% endfor %}'
    with pytest.raises(TemplateRenderError) as refused:
        template_render(body, SAMPLES)
    assert isinstance(refused.value.__cause__, TemplateLimitError)
    just_under = '{% for i in "x" * ' + str(MAX_OUTPUT // 10) + ' %}{{ "y" * 10 }}{% endfor %}'
    assert len(template_render(just_under, SAMPLES)) == MAX_OUTPUT // 10 * 10


@pytest.mark.parametrize("html", [False, True])
def test_the_default_templates_render_as_with_plain_jinja(html):
    plain = SandboxedEnvironment(undefined=StrictUndefined, autoescape=html, trim_blocks=True)
    for _key, _channel, _name, subject, body in DEFAULT_TEMPLATES:
        for source in filter(None, (subject, body)):
            expected = plain.from_string(source).render(**SAMPLES).strip()
            assert template_render(source, SAMPLES, html=html) == expected


FIFTY_INVOICES = {
    **SAMPLES,
    "invoice_count": "50",
    "invoices_list": "\n".join(
        f"NF-2026-{n:04d}: R$ {n}.234,50 (10/{n % 12 + 1:02d}/2026)" for n in range(1, 51)
    ),
}
LONG_TEMPLATE = """\
{% macro line(text, number) %}{{ number }}. {{ text|trim|replace("NF-", "Nota ") }}{% endmacro %}
Olá, {{ customer_name|title }}! Você tem {{ invoice_count }} faturas em aberto:
{% for row in invoices_list|list|batch(4) %}{% endfor %}
{% set lines %}{% for c in invoices_list %}{% if c == "\n" %};{% else %}{{ c }}{% endif %}\
{% endfor %}{% endset %}
{{ invoices_list|indent(2, true) }}
{{ lines|wordwrap(60) }}
{% for n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] %}{{ line(invoice_number, n) }}
{% endfor %}
{% filter upper %}{{ "%s, total de %s"|format(company_name, amount) }}{% endfilter %}
Pague em {{ payment_link }}"""


def test_a_long_but_ordinary_template_over_fifty_invoices_renders():
    plain = SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True)
    expected = plain.from_string(LONG_TEMPLATE).render(**FIFTY_INVOICES).strip()
    text = template_render(LONG_TEMPLATE, FIFTY_INVOICES)
    assert text == expected
    assert all(f"NF-2026-{n:04d}" in text for n in range(1, 51))
    assert template_render(LONG_TEMPLATE, FIFTY_INVOICES, html=True)


def test_an_email_over_a_limit_once_escaped_is_refused_not_a_crash():
    body = '{% for i in "x" * 5 %}{{ "&" * 9999 }}{% endfor %}'  # 50 000 characters, 5x escaped
    assert len(template_render(body, SAMPLES)) < MAX_OUTPUT
    check = template_check(channel="email", subject="Fatura", body=body)
    assert not check.ok and check.errors["body"]


# Saving and previewing: the API and the settings page.

HOSTILE = {
    name: {**ATTACKS, **NESTED}[name]
    for name in ("nested loops", "center", "exponential macro", "loops")
}


def sms_template(body):
    return {
        "key": "lembrete",
        "name": "Lembrete",
        "channel": "sms",
        "locale": "pt-br",
        "body": body,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_api_refuses_to_save_a_template_over_a_limit(api_a, body):
    expected = template_check(channel="sms", body=body).errors["body"]
    assert expected
    created = api_a.post(
        "/api/v1/templates/", json.dumps(sms_template(body)), content_type="application/json"
    )
    assert created.status_code == 400 and created.json()["body"] == expected
    preview = api_a.post(
        "/api/v1/templates/preview/",
        json.dumps({"channel": "sms", "body": body}),
        content_type="application/json",
    ).json()
    assert preview["ok"] is False and preview["errors"]["body"] == expected
    saved = api_a.get("/api/v1/templates/").json()["results"]
    assert all(t["key"] != "lembrete" for t in saved)


@pytest.mark.django_db
def test_the_settings_page_refuses_and_previews_the_reason(login, tenant_a):

    client = login(MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user)
    body = ATTACKS["nested loops"]
    [error] = template_check(channel="sms", body=body).errors["body"]
    data = {**sms_template(body), "subject": "", "content_sid": "", "content_variables": ""}
    preview = client.post("/settings/templates/preview/", data, HTTP_HX_REQUEST="true")
    page = preview.content.decode()
    assert 'data-preview-ok="false"' in page and escape(error) in page
    created = client.post("/settings/templates/new/", data).content.decode()
    assert 'id="id_body_error"' in created and escape(error) in created
    with scope(tenant=tenant_a):
        assert not Template.objects.filter(key="lembrete").exists()


# Sending: a template over a limit fails its message with the reason, and calls no provider.

TWILIO = {"account_sid": "AC" + "1" * 32, "auth_token": "secret-token"}


@on_the_suite_day  # its invoice is due on 2026-12-02
@pytest.mark.django_db
@pytest.mark.parametrize("name", ["nested loops", "output"])
def test_a_message_whose_template_goes_over_a_limit_fails_with_the_reason(tenant_a, twilio, name):
    body = ATTACKS[name]
    ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_sms", credentials=TWILIO, sender="+5511900000000"
    )
    day = date(2026, 12, 2)
    InvoiceFactory(
        tenant=tenant_a,
        due_date=day,
        customer={"external_id": "L", "phone": "+5511987654321", "preferred_channels": ["sms"]},
    )
    with scope(tenant=tenant_a):
        # Saved before the limits existed, say: written straight to the table.
        Template.objects.filter(key="due_today", channel="sms").update(body=body)
        with mock.patch.object(send_messages, "apply_async"):
            ladder_evaluate(tenant=tenant_a, today=day)
        message = Message.objects.get(channel="sms")
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "failed"
        message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    with pytest.raises(TemplateRenderError) as refused:
        template_render(body, SAMPLES)
    assert message.error == f"Template: {refused.value}"
    assert twilio.requests == []
