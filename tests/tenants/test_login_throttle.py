"""Login throttling: five wrong passwords for one account from one address, or twenty from one
address over any accounts, lock the login form for 15 minutes, the right password included."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.tenants.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def attempt(client, email, password, address="203.0.113.7"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=address)


def test_right_password_is_refused_after_five_failures(owner, caplog):
    client = Client()
    for _ in range(4):
        assert attempt(client, owner.email, "wrong").status_code == 200
    with caplog.at_level(logging.WARNING, logger="tenants.login"):
        assert attempt(client, owner.email, "wrong").status_code == 429
    response = attempt(client, owner.email, PASSWORD)
    assert response.status_code == 429
    assert "Muitas tentativas de entrada. Tente de novo em 15 minutos." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert any("locked out" in r.getMessage() for r in caplog.records)


def test_four_failures_then_the_right_password_logs_in(owner):
    client = Client()
    for _ in range(4):
        attempt(client, owner.email, "wrong")
    response = attempt(client, owner.email, PASSWORD)
    assert response.status_code == 302 and response.url == "/"


def test_lockout_ends_after_fifteen_minutes(owner):
    client = Client()
    for _ in range(5):
        attempt(client, owner.email, "wrong")
    assert attempt(client, owner.email, PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = attempt(client, owner.email, PASSWORD)
    assert response.status_code == 302


def test_another_address_can_still_log_in_to_the_account(owner):
    for _ in range(6):
        attempt(Client(), owner.email, "wrong", address="198.51.100.1")
    response = attempt(Client(), owner.email, PASSWORD, address="203.0.113.9")
    assert response.status_code == 302


def test_one_address_guessing_many_accounts_is_locked(owner):
    client = Client()
    for n in range(20):
        attempt(client, f"someone{n}@example.com", "wrong")
    assert attempt(client, owner.email, PASSWORD).status_code == 429
    assert attempt(Client(), owner.email, PASSWORD, address="203.0.113.99").status_code == 302


def test_admin_login_is_throttled_too():
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(5):
        client.post(
            "/admin/login/", {"username": staff.email, "password": "wrong"}, REMOTE_ADDR="1.2.3.4"
        )
    response = client.post(
        "/admin/login/", {"username": staff.email, "password": PASSWORD}, REMOTE_ADDR="1.2.3.4"
    )
    assert response.status_code == 429


def test_failures_do_not_touch_api_keys_or_forced_logins(owner, api_a, login):
    client = Client()
    for _ in range(25):
        attempt(client, owner.email, "wrong", address="127.0.0.1")
    assert api_a.get("/api/v1/customers/").status_code == 200
    assert login(owner).get("/").status_code == 200


def test_limits_come_from_settings(owner, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        attempt(client, owner.email, "wrong")
    assert attempt(client, owner.email, PASSWORD).status_code == 429
