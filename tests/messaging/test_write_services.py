"""Templates and provider accounts are written by one service each, `template_save` and
`provider_account_save`, that the settings pages and the API share: the same row for the same
input, the same message for the same refusal (a duplicate too, never a 500), and never another
tenant's object."""

import json

import pytest
from django.utils.html import escape
from django_scopes import scope, scopes_disabled

from messaging.config import PROVIDER_CONFLICT, TEMPLATE_CONFLICT
from messaging.models import ProviderAccount, Template
from messaging.provider_account_writes import ProviderAccountError, provider_account_save
from messaging.template_writes import TemplateError, template_save
from tests.messaging.factories import ProviderAccountFactory, TemplateFactory

pytestmark = pytest.mark.django_db

SID = "AC" + "1" * 32
TOKEN = "segredo-muito-secreto"
CONTENT_SID = "HX" + "a" * 32
TEMPLATE_FIELDS = ("name", "channel", "locale", "subject", "body", "content_sid")


def post(api, path, data):
    return api.post(path, json.dumps(data), content_type="application/json")


def whatsapp_template(**extra) -> dict:
    """A template as the API takes it; `on_page` turns it into the editor's form."""
    return {
        "key": "lembrete-zap",
        "name": "Lembrete",
        "channel": "whatsapp",
        "locale": "pt-br",
        "subject": "",
        "body": "Olá {{ customer_name }}, sua fatura de {{ amount }} vence hoje.",
        "content_sid": CONTENT_SID,
        "content_variables": ["customer_name", "amount"],
        **extra,
    }


def on_page(template: dict) -> dict:
    return {**template, "content_variables": ", ".join(template["content_variables"])}


def sms_account(**extra) -> dict:
    """An account as the API takes it; `account_on_page` turns it into the editor's form."""
    return {
        "channel": "sms",
        "provider": "twilio_sms",
        "sender": "+5511900000000",
        "active": False,
        "credentials": {"account_sid": SID, "auth_token": TOKEN},
        **extra,
    }


def account_on_page(account: dict) -> dict:
    data = {name: account[name] for name in ("channel", "provider", "sender")}
    if account["active"]:
        data["active"] = "on"
    for name, value in account["credentials"].items():
        data[f"credential_{name}"] = value
    return data


def stored_template(tenant, key: str) -> dict:
    with scope(tenant=tenant):
        template = Template.objects.get(key=key)
    return {
        **{name: getattr(template, name) for name in TEMPLATE_FIELDS},
        "content_variables": template.content_variables,
    }


def stored_accounts(tenant) -> list[dict]:
    with scope(tenant=tenant):
        return [
            {
                "channel": account.channel,
                "provider": account.provider,
                "sender": account.sender,
                "active": account.active,
                "credentials": account.credentials,
            }
            for account in ProviderAccount.objects.order_by("id")
        ]


def errors_on(page, marker: str) -> str:
    """The error list that follows `marker` (a field's error id, or the credentials fieldset's)."""
    return page.content.decode().split(marker, 1)[1].split("</ul>", 1)[0]


def assert_both_refuse(api, page, field: str, marker: str, *, page_status: int = 200) -> None:
    """The API answered 400 with one message on `field`, and the page (answered `page_status`)
    shows that message in the error list after `marker`."""
    assert api.status_code == 400, api.content
    [message] = api.json()[field]
    assert page.status_code == page_status
    assert escape(message) in errors_on(page, marker)


# The same row for the same input


def test_the_page_and_the_api_store_the_same_template(tenant_a, owner, login, api_a):
    page = login(owner).post(
        "/settings/templates/new/", on_page(whatsapp_template(key="pelo-site"))
    )
    api = post(api_a, "/api/v1/templates/", whatsapp_template(key="pela-api"))
    assert page.status_code == 302 and api.status_code == 201, api.content
    by_page, by_api = stored_template(tenant_a, "pelo-site"), stored_template(tenant_a, "pela-api")
    assert by_page == by_api
    assert by_api["content_variables"] == ["customer_name", "amount"]


def test_the_page_and_the_api_store_the_same_provider_account(tenant_a, owner, login, api_a):
    page = login(owner).post("/settings/providers/new/", account_on_page(sms_account()))
    api = post(api_a, "/api/v1/provider-accounts/", sms_account())
    assert page.status_code == 302 and api.status_code == 201, api.content
    by_page, by_api = stored_accounts(tenant_a)
    assert by_page == by_api == sms_account()
    with scopes_disabled():
        assert all(TOKEN not in a.credentials_encrypted for a in ProviderAccount.objects.all())


# The same refusal, with the same message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"body": "Olá {{ nome_do_cliente }}"}, "body"),
        ({"body": "{{ ''.__class__.__mro__ }}"}, "body"),
        ({"content_sid": "HX123"}, "content_sid"),
        ({"content_variables": ["customer_name", "senha"]}, "content_variables"),
        ({"channel": "email", "content_sid": "", "content_variables": []}, "subject"),
    ],
)
def test_the_page_and_the_api_refuse_a_bad_template_with_the_same_message(
    tenant_a, owner, login, api_a, change, field
):
    data = whatsapp_template(**change)
    api = post(api_a, "/api/v1/templates/", data)
    page = login(owner).post("/settings/templates/new/", on_page(data))
    assert_both_refuse(api, page, field, f'id="id_{field}_error">', page_status=400)
    with scope(tenant=tenant_a):
        assert not Template.objects.filter(key=data["key"]).exists()


@pytest.mark.parametrize(
    ("change", "field", "where"),
    [
        ({"channel": "email"}, "provider", 'id="id_provider_error">'),
        ({"credentials": {"account_sid": SID}}, "credentials", 'id="credentials-errors"'),
    ],
)
def test_the_page_and_the_api_refuse_a_bad_account_with_the_same_message(
    tenant_a, owner, login, api_a, change, field, where
):
    data = sms_account(**change)
    api = post(api_a, "/api/v1/provider-accounts/", data)
    page = login(owner).post("/settings/providers/new/", account_on_page(data))
    assert_both_refuse(api, page, field, where)
    assert stored_accounts(tenant_a) == []


def test_a_repeated_template_key_is_refused_by_both_without_a_500(tenant_a, owner, login, api_a):
    existing = TemplateFactory(tenant=tenant_a, key="repetido", channel="whatsapp")
    data = whatsapp_template(key="repetido", body="Outro texto {{ customer_name }}")
    api = post(api_a, "/api/v1/templates/", data)
    page = login(owner).post("/settings/templates/new/", on_page(data))
    assert api.json() == {"key": [str(TEMPLATE_CONFLICT)]}
    assert_both_refuse(api, page, "key", 'id="id_key_error">', page_status=400)
    with scope(tenant=tenant_a):
        assert Template.objects.get(key="repetido").body == existing.body


def test_a_second_active_account_is_refused_by_both_without_a_500(tenant_a, owner, login, api_a):
    ProviderAccountFactory(tenant=tenant_a, provider="twilio_sms")
    data = sms_account(active=True)
    api = post(api_a, "/api/v1/provider-accounts/", data)
    page = login(owner).post("/settings/providers/new/", account_on_page(data))
    assert api.json() == {"active": [str(PROVIDER_CONFLICT)]}
    assert_both_refuse(api, page, "active", 'id="id_active_error">')
    assert len(stored_accounts(tenant_a)) == 1


# The services themselves


def test_a_duplicate_is_a_field_error_and_the_transaction_goes_on(tenant_a):
    with scope(tenant=tenant_a):
        template_save(tenant=tenant_a, **whatsapp_template())
        with pytest.raises(TemplateError) as refused:
            template_save(tenant=tenant_a, **whatsapp_template(name="Outro"))
        assert refused.value.errors == {"key": [str(TEMPLATE_CONFLICT)]}
        assert Template.objects.filter(key="lembrete-zap").count() == 1


def test_a_change_is_checked_with_the_stored_values_of_the_fields_not_given(tenant_a):
    with scope(tenant=tenant_a):
        template = template_save(tenant=tenant_a, **whatsapp_template())
        with pytest.raises(TemplateError) as refused:
            template_save(tenant=tenant_a, template=template, channel="email")
        assert set(refused.value.errors) == {"subject", "content_sid"}
        template.refresh_from_db()
        assert template.channel == "whatsapp"


def test_an_account_keeps_its_credentials_unless_new_ones_are_given(tenant_a):
    with scope(tenant=tenant_a):
        account = provider_account_save(tenant=tenant_a, **sms_account())
        provider_account_save(tenant=tenant_a, account=account, sender="+5511911111111")
        account.refresh_from_db()
        assert account.credentials == {"account_sid": SID, "auth_token": TOKEN}
        with pytest.raises(ProviderAccountError) as refused:
            provider_account_save(tenant=tenant_a, account=account, credentials={})
        assert list(refused.value.errors) == ["credentials"]
        new = {"account_sid": SID, "auth_token": "outro-segredo"}
        provider_account_save(tenant=tenant_a, account=account, credentials=new)
        account.refresh_from_db()
        assert account.credentials == new and account.sender == "+5511911111111"


def test_another_tenants_template_and_account_cannot_be_changed(tenant_a, tenant_b):
    theirs_template = TemplateFactory(tenant=tenant_b, key="deles")
    theirs_account = ProviderAccountFactory(tenant=tenant_b, provider="twilio_sms")
    with scopes_disabled():
        with pytest.raises(Template.DoesNotExist):
            template_save(tenant=tenant_a, template=theirs_template, name="Tomado")
        with pytest.raises(ProviderAccount.DoesNotExist):
            provider_account_save(tenant=tenant_a, account=theirs_account, active=False)
        theirs_template.refresh_from_db()
        theirs_account.refresh_from_db()
    assert theirs_template.name != "Tomado" and theirs_template.tenant_id == tenant_b.pk
    assert theirs_account.active is True and theirs_account.tenant_id == tenant_b.pk
