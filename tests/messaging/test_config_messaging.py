"""The settings pages for templates and provider accounts: members read, admins write, the
API's checks refuse what cannot work (nothing written), the live preview renders the samples,
secrets never reach the HTML, the test send goes through the real SDK to a loopback fake, and
another tenant's objects are 404."""

import pytest
from django.utils.html import escape
from django_scopes import scope, scopes_disabled

from messaging.models import ProviderAccount, Template
from messaging.sms import sms_size
from messaging.template_check import template_check
from tenants.models import Role
from tests.fakes import Answer
from tests.messaging.factories import ProviderAccountFactory
from tests.tenants.factories import MembershipFactory

pytestmark = [pytest.mark.django_db]

SID = "AC" + "1" * 32
TOKEN = "segredo-muito-secreto"
SMS_BODY = (
    "{{ company_name }}: fatura {{ invoice_number }} de {{ amount }} vence em {{ due_date }}. "
    "Pague em {{ payment_link }}"
)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin(tenant_a):
    return MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user


def template_data(**extra):
    return {
        "key": "lembrete",
        "name": "Lembrete",
        "channel": "sms",
        "locale": "pt-br",
        "subject": "",
        "body": SMS_BODY,
        "content_sid": "",
        "content_variables": "",
        **extra,
    }


def account_data(**extra):
    return {
        "channel": "sms",
        "provider": "twilio_sms",
        "sender": "+5511900000000",
        "active": "on",
        "credential_account_sid": SID,
        "credential_auth_token": TOKEN,
        **extra,
    }


def templates_of(tenant):
    with scope(tenant=tenant):
        return {(t.key, t.channel, t.locale): t for t in Template.objects.all()}


def accounts_of(tenant):
    with scope(tenant=tenant):
        return list(ProviderAccount.objects.all())


def a_template(tenant) -> Template:
    with scope(tenant=tenant):
        return Template.objects.filter(channel="sms").first()


# Roles


def test_anonymous_is_sent_to_login(client, tenant_a):
    response = client.get("/settings/templates/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_a_viewer_reads_every_page_read_only(login, viewer, tenant_a):
    template = a_template(tenant_a)
    account = ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_sms", credentials={"account_sid": SID}
    )
    client = login(viewer)
    for path in [
        "/settings/templates/",
        "/settings/templates/new/",
        f"/settings/templates/{template.pk}/",
        "/settings/providers/",
        "/settings/providers/new/?channel=sms",
        f"/settings/providers/{account.pk}/",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        assert 'id="new-template"' not in page and "hx-post" not in page, path
    editor = client.get(f"/settings/templates/{template.pk}/").content.decode()
    assert 'id="read-only"' in editor and 'id="save-template"' not in editor
    assert "<fieldset" in editor and " disabled>" in editor


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
def test_below_admin_every_write_is_forbidden(login, tenant_a, role, twilio):
    template = a_template(tenant_a)
    account = ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        credentials={"account_sid": SID, "auth_token": TOKEN},
    )
    before = templates_of(tenant_a)
    client = login(MembershipFactory(tenant=tenant_a, role=role).user)
    writes = [
        ("/settings/templates/new/", template_data()),
        (f"/settings/templates/{template.pk}/", template_data(body="Mudou")),
        ("/settings/templates/preview/", template_data()),
        ("/settings/providers/new/", account_data(active="")),
        (f"/settings/providers/{account.pk}/", account_data(sender="+5511911111111")),
        (f"/settings/providers/{account.pk}/test/", {"recipient": "+5511987654321"}),
    ]
    for path, data in writes:
        assert client.post(path, data).status_code == 403, path
    assert templates_of(tenant_a).keys() == before.keys()
    assert a_template(tenant_a).body == template.body
    [stored] = accounts_of(tenant_a)
    assert stored.sender == ""
    assert twilio.requests == []


# Templates


def test_the_list_groups_templates_by_key_with_channel_and_locale(login, viewer, tenant_a):
    with scope(tenant=tenant_a):
        Template.objects.create(
            tenant=tenant_a, key="zz-extra", name="Extra", channel="sms", locale="en", body="Hi"
        )
    page = login(viewer).get("/settings/templates/").content.decode()
    sections = page.split('data-template-key="')[1:]
    keys = [section.split('"', 1)[0] for section in sections]
    assert keys == sorted(set(keys)) and "zz-extra" in keys
    extra = next(section for section in sections if section.startswith("zz-extra"))
    assert 'data-channel="sms" data-locale="en"' in extra


def test_an_admin_creates_a_template(login, admin, tenant_a):
    response = login(admin).post("/settings/templates/new/", template_data())
    created = templates_of(tenant_a)[("lembrete", "sms", "pt-br")]
    assert response.status_code == 302 and response.url == f"/settings/templates/{created.pk}/"
    assert created.body == SMS_BODY and created.tenant_id == tenant_a.pk


def test_an_owner_edits_a_whatsapp_template_with_its_content_mapping(login, owner, tenant_a):
    with scope(tenant=tenant_a):
        template = Template.objects.filter(channel="whatsapp").first()
    data = template_data(
        key=template.key,
        channel="whatsapp",
        locale=template.locale,
        body="Olá {{ customer_name }}",
        content_sid="HX" + "a" * 32,
        content_variables="customer_name, amount",
    )
    response = login(owner).post(f"/settings/templates/{template.pk}/", data)
    assert response.status_code == 302
    with scope(tenant=tenant_a):
        template.refresh_from_db()
    assert template.body == "Olá {{ customer_name }}"
    assert template.content_variables == ["customer_name", "amount"]
    page = login(owner).get(f"/settings/templates/{template.pk}/").content.decode()
    assert 'value="customer_name, amount"' in page


@pytest.mark.parametrize(
    "body",
    [
        "Olá {{ customer_name }",
        "Olá {{ nome_do_cliente }}",
        "{{ ''.__class__.__mro__ }}",
    ],
)
def test_a_broken_or_hostile_template_is_refused_beside_its_field(login, admin, tenant_a, body):
    template = a_template(tenant_a)
    client = login(admin)
    created = client.post("/settings/templates/new/", template_data(body=body))
    edited = client.post(
        f"/settings/templates/{template.pk}/",
        template_data(key=template.key, locale=template.locale, body=body),
    )
    [api_error] = template_check(channel="sms", body=body).errors["body"]
    for response in (created, edited):
        assert response.status_code == 400
        page = response.content.decode()
        assert f'<ul class="errorlist" id="id_body_error"><li>{escape(api_error)}</li>' in page
        textarea = page.split("<textarea", 1)[1].split(">", 1)[0]
        assert 'aria-describedby="id_body_error"' in textarea and 'aria-invalid="true"' in textarea
        assert '<label for="id_body"' in page
    assert ("lembrete", "sms", "pt-br") not in templates_of(tenant_a)
    assert a_template(tenant_a).body == template.body


def test_an_email_without_subject_and_a_long_sms_are_refused(login, admin, tenant_a):
    client = login(admin)
    email = client.post("/settings/templates/new/", template_data(channel="email", subject=""))
    long_sms = client.post("/settings/templates/new/", template_data(body="Atenção! " * 40))
    assert 'id="id_subject_error"' in email.content.decode()
    assert 'id="id_body_error"' in long_sms.content.decode()
    assert ("lembrete", "email", "pt-br") not in templates_of(tenant_a)
    assert ("lembrete", "sms", "pt-br") not in templates_of(tenant_a)


def test_a_second_template_with_the_same_key_channel_and_locale_is_refused(login, admin, tenant_a):
    existing = a_template(tenant_a)
    response = login(admin).post(
        "/settings/templates/new/",
        template_data(key=existing.key, locale=existing.locale, body="Outro"),
    )
    assert response.status_code == 400
    assert 'id="id_key_error"' in response.content.decode()
    assert a_template(tenant_a).body == existing.body


def test_the_editor_lists_the_variable_registry_and_previews_live(login, admin, tenant_a):
    template = a_template(tenant_a)
    page = login(admin).get(f"/settings/templates/{template.pk}/").content.decode()
    assert 'data-variable="customer_name"' in page and "Maria Souza" in page
    assert 'hx-post="/settings/templates/preview/"' in page
    assert 'hx-trigger="input changed delay:400ms"' in page
    assert 'id="template-preview"' in page and 'data-preview-ok="true"' in page


def test_the_preview_renders_samples_and_counts_sms_segments(login, admin, tenant_a):
    response = login(admin).post("/settings/templates/preview/", template_data(), **HTMX)
    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith("<section")
    assert "<html" not in page  # a partial, not the page
    text = template_check(channel="sms", body=SMS_BODY).preview["body"]
    assert "R$ 1.234,50" in page and "10/12/2026" in page
    size = sms_size(text)
    assert f'data-sms-encoding="{size.encoding}"' in page
    assert f'data-sms-segments="{size.segments}"' in page
    assert f'data-sms-characters="{size.units}"' in page
    assert 'data-preview-ok="true"' in page
    assert ("lembrete", "sms", "pt-br") not in templates_of(tenant_a)


def test_the_preview_shows_the_errors_saving_would_give(login, admin):
    body = "Olá {{ customer_name }} {{ ''.__class__.__mro__ }}"
    page = (
        login(admin)
        .post("/settings/templates/preview/", template_data(body=body), **HTMX)
        .content.decode()
    )
    [api_error] = template_check(channel="sms", body=body).errors["body"]
    assert 'data-preview-ok="false"' in page
    assert 'data-error-field="body"><strong>' in page and escape(api_error) in page


def test_the_preview_of_an_email_and_a_whatsapp_template(login, admin):
    client = login(admin)
    email = client.post(
        "/settings/templates/preview/",
        template_data(
            channel="email",
            subject="Fatura {{ invoice_number }}",
            body="Olá {{ customer_name }}\n\nPague em {{ payment_link }}",
        ),
        **HTMX,
    ).content.decode()
    assert 'data-preview="subject"><strong>Fatura NF-2026-0042</strong>' in email
    iframe = email.split("<iframe", 1)[1].split(">", 1)[0]
    assert 'sandbox=""' in iframe
    assert 'srcdoc="&lt;!doctype html&gt;' in iframe and "&lt;p&gt;Olá Maria Souza" in iframe
    whatsapp = client.post(
        "/settings/templates/preview/",
        template_data(
            channel="whatsapp",
            body="Olá {{ customer_name }}",
            content_sid="HX" + "b" * 32,
            content_variables="customer_name amount",
        ),
        **HTMX,
    ).content.decode()
    assert 'data-preview="content_variables"' in whatsapp
    assert "<dd>Maria Souza</dd>" in whatsapp and "<dd>R$ 1.234,50</dd>" in whatsapp


# Provider accounts


def test_an_admin_creates_an_account_and_its_secrets_never_reach_the_page(login, admin, tenant_a):
    client = login(admin)
    response = client.post("/settings/providers/new/", account_data())
    [account] = accounts_of(tenant_a)
    assert response.status_code == 302 and response.url == f"/settings/providers/{account.pk}/"
    assert account.credentials == {"account_sid": SID, "auth_token": TOKEN}
    assert TOKEN not in account.credentials_encrypted
    listing = client.get("/settings/providers/").content.decode()
    assert f'data-account-id="{account.pk}"' in listing and 'data-active="true"' in listing
    assert "••••reto" in listing and "segr" not in listing
    for page in (listing, client.get(f"/settings/providers/{account.pk}/").content.decode()):
        assert TOKEN not in page and SID not in page


def test_a_refused_form_does_not_echo_the_typed_secret(login, admin, tenant_a):
    response = login(admin).post(
        "/settings/providers/new/", account_data(credential_account_sid="")
    )
    page = response.content.decode()
    assert response.status_code == 200 and 'id="credentials-errors"' in page
    assert "account_sid" in page.split('id="credentials-errors"', 1)[1].split("</ul>", 1)[0]
    assert TOKEN not in page
    assert accounts_of(tenant_a) == []


def test_an_smtp_port_that_is_not_a_port_is_refused_on_the_form(login, admin, tenant_a):
    data = {
        "channel": "email",
        "provider": "smtp",
        "active": "on",
        "credential_host": "smtp.exemplo.com.br",
        "credential_port": "vinte e cinco",
        "credential_security": "starttls",
    }
    response = login(admin).post("/settings/providers/new/", data)
    errors = response.content.decode().split('id="credentials-errors"', 1)[1].split("</ul>")[0]
    assert "Porta: use um número inteiro de 1 a 65535." in errors
    assert accounts_of(tenant_a) == []


def test_a_provider_that_cannot_carry_the_channel_is_refused(login, admin, tenant_a):
    response = login(admin).post("/settings/providers/new/", account_data(channel="email"))
    page = response.content.decode()
    assert response.status_code == 200 and 'id="id_provider_error"' in page
    assert accounts_of(tenant_a) == []


def test_one_active_account_per_channel(login, admin, tenant_a):
    ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        credentials={"account_sid": SID, "auth_token": TOKEN},
    )
    client = login(admin)
    second = client.post("/settings/providers/new/", account_data())
    assert second.status_code == 200 and 'id="id_active_error"' in second.content.decode()
    assert len(accounts_of(tenant_a)) == 1
    inactive = client.post("/settings/providers/new/", account_data(active=""))
    assert inactive.status_code == 302 and len(accounts_of(tenant_a)) == 2


def test_editing_keeps_a_secret_left_blank(login, owner, tenant_a):
    account = ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        credentials={"account_sid": SID, "auth_token": TOKEN},
    )
    response = login(owner).post(
        f"/settings/providers/{account.pk}/",
        account_data(sender="+5511911111111", credential_auth_token=""),
    )
    assert response.status_code == 302
    [stored] = accounts_of(tenant_a)
    assert stored.sender == "+5511911111111"
    assert stored.credentials == {"account_sid": SID, "auth_token": TOKEN}


def test_an_optional_stored_credential_can_be_removed(login, owner, tenant_a):
    creds = {"host": "smtp.exemplo.com.br", "username": "cobranca", "password": "s3nha"}
    account = ProviderAccountFactory(tenant=tenant_a, provider="smtp", credentials=creds)
    client = login(owner)
    page = client.get(f"/settings/providers/{account.pk}/").content.decode()
    # The optional ones offer a removal; the required host does not.
    assert 'name="clear_password"' in page and 'name="clear_username"' in page
    assert 'name="clear_host"' not in page
    data = {"channel": "email", "provider": "smtp", "active": "on", "clear_password": "on"}
    assert client.post(f"/settings/providers/{account.pk}/", data).status_code == 302
    [stored] = accounts_of(tenant_a)
    assert stored.credentials == {"host": "smtp.exemplo.com.br", "username": "cobranca"}


def test_the_form_offers_the_channels_providers_and_their_credentials(login, admin):
    page = (
        login(admin).get("/settings/providers/new/?channel=email&provider=smtp", **HTMX)
    ).content.decode()
    assert page.lstrip().startswith('<form id="provider-form"')
    options = page.split('name="provider"', 1)[1].split("</select>", 1)[0]
    assert 'value="sendgrid"' in options and 'value="smtp" selected' in options
    assert "twilio" not in options
    assert 'name="credential_host"' in page
    assert 'type="password" name="credential_password"' in page
    sms = login(admin).get("/settings/providers/new/?channel=sms", **HTMX).content.decode()
    assert 'value="twilio_sms" selected' in sms and 'name="credential_auth_token"' in sms


def test_a_test_message_goes_through_the_account_to_twilio(login, admin, tenant_a, twilio):
    account = ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        credentials={"account_sid": SID, "auth_token": TOKEN},
        sender="+5511900000000",
    )
    client = login(admin)
    ok = client.post(
        f"/settings/providers/{account.pk}/test/", {"recipient": "+5511987654321"}, **HTMX
    ).content.decode()
    assert 'data-test-ok="true"' in ok
    [request] = twilio.requests
    assert request.form()["To"] == "+5511987654321" and request.form()["From"] == "+5511900000000"
    assert SID in request.path and "Régua" in request.form()["Body"]
    twilio.script.append(
        Answer(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    )
    failed = client.post(
        f"/settings/providers/{account.pk}/test/", {"recipient": "+5511000"}, **HTMX
    ).content.decode()
    assert 'data-test-ok="false"' in failed
    assert escape("Twilio 21211: invalid 'To' phone number") in failed
    assert TOKEN not in ok + failed


def test_without_htmx_the_test_result_comes_back_on_the_accounts_page(
    login, admin, tenant_a, twilio
):
    account = ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        credentials={"account_sid": SID, "auth_token": TOKEN},
    )  # no sender: the adapter refuses before calling Twilio
    client = login(admin)
    response = client.post(
        f"/settings/providers/{account.pk}/test/", {"recipient": "+5511987654321"}
    )
    assert response.status_code == 302 and response.url == f"/settings/providers/{account.pk}/"
    page = client.get(response.url).content.decode()
    messages = page.split('<ul class="messages">', 1)[1].split("</ul>", 1)[0]
    assert "No Twilio sender (number or messaging service)" in messages
    assert twilio.requests == []


# Tenant isolation


def test_another_tenants_template_and_account_are_404(login, owner, outsider, tenant_a, tenant_b):
    theirs = a_template(tenant_b)
    their_account = ProviderAccountFactory(
        tenant=tenant_b,
        provider="twilio_sms",
        credentials={"account_sid": SID, "auth_token": TOKEN},
    )
    client = login(owner)
    assert client.get(f"/settings/templates/{theirs.pk}/").status_code == 404
    assert client.post(f"/settings/templates/{theirs.pk}/", template_data()).status_code == 404
    assert client.get(f"/settings/providers/{their_account.pk}/").status_code == 404
    assert (
        client.post(f"/settings/providers/{their_account.pk}/", account_data()).status_code == 404
    )
    test = client.post(f"/settings/providers/{their_account.pk}/test/", {"recipient": "+551"})
    assert test.status_code == 404
    # And the other way round: tenant B's owner cannot reach tenant A's.
    ours = a_template(tenant_a)
    assert login(outsider).get(f"/settings/templates/{ours.pk}/").status_code == 404
    with scopes_disabled():
        assert Template.objects.get(pk=theirs.pk).body == theirs.body
        assert ProviderAccount.objects.get(pk=their_account.pk).sender == ""
    listing = client.get("/settings/providers/").content.decode()
    assert f'data-account-id="{their_account.pk}"' not in listing
