"""Templates over the API: checked before saving, previewed with the registry's samples."""

import json

import pytest

from messaging.sms import sms_size

pytestmark = pytest.mark.django_db


def post(api, path, data):
    return api.post(path, json.dumps(data), content_type="application/json")


def sms_template(**extra):
    return {
        "key": "lembrete",
        "name": "Lembrete",
        "channel": "sms",
        "locale": "pt-br",
        "body": "{{ company_name }}: fatura {{ invoice_number }} de {{ amount }} vence em "
        "{{ due_date }}. Pague em {{ payment_link }}",
        **extra,
    }


def test_a_valid_template_is_saved_and_listed(api_a):
    response = post(api_a, "/api/v1/templates/", sms_template())
    assert response.status_code == 201, response.content
    keys = [(t["key"], t["channel"]) for t in api_a.get("/api/v1/templates/").json()["results"]]
    assert ("lembrete", "sms") in keys


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Olá {{ customer_name }", "Erro de sintaxe na linha 1"),
        ("Olá {{ nome_do_cliente }}", "Variável desconhecida: nome_do_cliente"),
        ("{{ ''.__class__.__mro__ }}", "Acesso a atributos e itens não é permitido"),
        ("{{ customer_name.__init__.__globals__ }}", "Acesso a atributos e itens não é permitido"),
        ("{{ payment_link['x'] }}", "Acesso a atributos e itens não é permitido"),
        ("{% for x in ().__class__.__base__.__subclasses__() %}{% endfor %}", "não é permitido"),
        # Expressions that fail on the values, or would use up the server's memory.
        ("{{ customer_name - 1 }}", "Não foi possível montar o texto"),
        ("{{ 1 / 0 }}", "Não foi possível montar o texto"),
        ("{{ amount * 999999999 }}", "no máximo 10000 caracteres"),
        ("{{ 9 ** 9 ** 9 }}", "Potências (**) não são permitidas"),
        ("{{ lipsum(999999) }}", "Variável desconhecida: lipsum"),
        ("{% for i in range(99) %}{% endfor %}", "Variável desconhecida: range"),
    ],
)
def test_broken_or_hostile_templates_are_refused_with_the_reason(api_a, body, message):
    response = post(api_a, "/api/v1/templates/", sms_template(body=body))
    assert response.status_code == 400
    [error] = response.json()["body"]
    assert message in error
    saved = api_a.get("/api/v1/templates/").json()["results"]
    assert all(t["key"] != "lembrete" for t in saved)  # nothing was written


def test_an_email_needs_a_subject_and_an_sms_a_reasonable_length(api_a):
    email = post(
        api_a, "/api/v1/templates/", sms_template(channel="email", subject="", key="e-mail")
    )
    assert email.status_code == 400 and "subject" in email.json()
    long_sms = post(api_a, "/api/v1/templates/", sms_template(body="Atenção! " * 40))
    assert long_sms.status_code == 400
    assert "segmentos" in long_sms.json()["body"][0]


def test_whatsapp_content_mapping_is_checked(api_a):
    base = sms_template(channel="whatsapp", key="zap")
    bad_sid = post(api_a, "/api/v1/templates/", {**base, "content_sid": "HX123"})
    assert bad_sid.status_code == 400 and "content_sid" in bad_sid.json()
    unknown = post(
        api_a,
        "/api/v1/templates/",
        {**base, "content_sid": "HX" + "a" * 32, "content_variables": ["customer_name", "x"]},
    )
    assert unknown.status_code == 400
    assert unknown.json()["content_variables"] == ["Variável desconhecida: x"]
    good = post(
        api_a,
        "/api/v1/templates/",
        {**base, "content_sid": "HX" + "a" * 32, "content_variables": ["customer_name"]},
    )
    assert good.status_code == 201, good.content


def test_editing_a_template_is_checked_too(api_a):
    created = post(api_a, "/api/v1/templates/", sms_template()).json()
    response = api_a.patch(
        f"/api/v1/templates/{created['id']}/",
        json.dumps({"body": "{{ amount.real }}"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    fetched = api_a.get(f"/api/v1/templates/{created['id']}/").json()
    assert fetched["body"] == created["body"]  # nothing half-written


def test_preview_renders_samples_and_counts_sms_segments(api_a):
    response = post(api_a, "/api/v1/templates/preview/", sms_template())
    body = response.json()
    assert response.status_code == 200 and body["ok"] is True
    text = body["preview"]["body"]
    assert "R$ 1.234,50" in text and "10/12/2026" in text
    size = sms_size(text)
    assert body["preview"]["sms"] == {
        "encoding": size.encoding,
        "characters": size.units,
        "segments": size.segments,
    }
    email = post(
        api_a,
        "/api/v1/templates/preview/",
        {"channel": "email", "subject": "Fatura {{ invoice_number }}", "body": "Olá <b>"},
    ).json()
    assert email["preview"]["subject"] == "Fatura NF-2026-0042"
    # The author's own markup is the author's; values from the registry are escaped.
    assert "<p>Olá <b></p>" in email["preview"]["html"]
    broken = post(api_a, "/api/v1/templates/preview/", {"channel": "sms", "body": "{{ x }}"})
    assert broken.json() == {
        "ok": False,
        "errors": {"body": ["Variável desconhecida: x"]},
        "preview": {},
    }


def test_errors_come_in_english_on_request(api_a):
    response = api_a.post(
        "/api/v1/templates/preview/",
        json.dumps({"channel": "sms", "body": "{{ x }}"}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.json()["errors"] == {"body": ["Unknown variable: x"]}


def test_the_registry_lists_names_descriptions_and_samples(api_a):
    variables = {v["name"]: v for v in api_a.get("/api/v1/templates/variables/").json()}
    assert variables["amount"]["sample"] == "R$ 1.234,50"
    assert "payment_link" in variables and variables["due_date"]["description"]


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("Sua fatura vence hoje", "GSM-7", 1),
        ("x" * 160, "GSM-7", 1),
        ("x" * 161, "GSM-7", 2),
        ("{" * 80, "GSM-7", 1),  # extension characters count twice
        ("{" * 81, "GSM-7", 2),
        ("Atenção", "UCS-2", 1),
        ("ç" * 70, "UCS-2", 1),
        ("ç" * 71, "UCS-2", 2),
        ("ç" * 135, "UCS-2", 3),
        ("", "GSM-7", 0),
    ],
)
def test_sms_segments(text, encoding, segments):
    size = sms_size(text)
    assert (size.encoding, size.segments) == (encoding, segments)
