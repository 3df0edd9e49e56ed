from datetime import date

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django_scopes import scope, scopes_disabled

from messaging.models import ProviderAccount, Template
from tenants.models import User
from tests.collections_app.factories import InvoiceFactory
from tests.messaging.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db


def test_operators_admin_lists_every_tenants_rows(client, tenant_a, tenant_b):

    InvoiceFactory(tenant=tenant_a, external_id="A-1", due_date=date(2026, 12, 1))
    InvoiceFactory(tenant=tenant_b, external_id="B-1", due_date=date(2026, 12, 1))
    User.objects.create_superuser(email="ops@regua.local", password="senha-segura-123")
    client.login(email="ops@regua.local", password="senha-segura-123")
    page = client.get("/admin/collections_app/invoice/").content.decode()
    assert "A-1" in page and "B-1" in page


def test_admin_is_closed_to_tenant_users(login, owner):
    response = login(owner).get("/admin/collections_app/invoice/")
    assert response.status_code == 302


def test_credentials_are_encrypted_at_rest_and_masked(tenant_a, settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    account = ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        credentials={"account_sid": "AC123", "auth_token": "super-secret-token"},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials_encrypted FROM messaging_provideraccount WHERE id = %s",
            [account.pk],
        )
        raw = cursor.fetchone()[0]
    assert "super-secret-token" not in raw
    assert account.masked_credentials()["auth_token"] == "••••oken"


def test_key_rotation_keeps_credentials_readable(tenant_a, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    with scope(tenant=tenant_a):
        account = ProviderAccount.objects.create(tenant=tenant_a, channel="sms", provider="console")
        account.credentials = {"token": "abc12345"}
        account.save()
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    call_command("rotate_credentials_key")
    settings.FIELD_ENCRYPTION_KEY = new  # the old key is gone
    with scopes_disabled():
        assert ProviderAccount.objects.get(pk=account.pk).credentials == {"token": "abc12345"}


def test_the_admin_refuses_a_template_the_api_would_refuse(client, tenant_a):

    User.objects.create_superuser(email="ops@regua.local", password="senha-segura-123")
    client.login(email="ops@regua.local", password="senha-segura-123")
    with scopes_disabled():
        template = Template.objects.filter(tenant=tenant_a, channel="sms").first()
    form = {
        "tenant": tenant_a.pk,
        "key": template.key,
        "name": template.name,
        "channel": "sms",
        "locale": template.locale,
        "subject": "",
        "body": "{{ ''.__class__.__mro__ }}",
        "content_sid": "",
        "content_variables": "[]",
    }
    response = client.post(f"/admin/messaging/template/{template.pk}/change/", form)
    assert response.status_code == 200  # the form again, with the error
    assert "não é permitido" in response.content.decode()
    with scopes_disabled():
        template.refresh_from_db()
    assert "__class__" not in template.body
    form["body"] = "{{ company_name }}: fatura de {{ amount }} vence {{ due_date }}."
    response = client.post(f"/admin/messaging/template/{template.pk}/change/", form)
    assert response.status_code == 302
