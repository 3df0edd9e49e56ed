import os

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scope, scopes_disabled

from tenants.models import Role
from tenants.services import api_key_create
from tests.fakes import FakeProvider, sendgrid_answer, twilio_answer
from tests.tenants.factories import MembershipFactory, TenantFactory

pytest_plugins = ["tests.browser", "tests.clock"]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, why: str) -> None:
    """Skip a test that needs a server or a browser on a newcomer's machine without it; under
    CI=true fail instead, so a green CI means the test ran."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{why} (required under CI=true)")
    pytest.skip(why)


@pytest.fixture
def tenant_a(db):
    return TenantFactory(slug="tenant-a", name="Escola Aurora")


@pytest.fixture
def tenant_b(db):
    return TenantFactory(slug="tenant-b", name="Clínica Boa Vista")


@pytest.fixture
def owner(tenant_a):
    with scopes_disabled():
        return tenant_a.memberships.get(role=Role.OWNER).user


@pytest.fixture
def agent(tenant_a):
    return MembershipFactory(tenant=tenant_a, role=Role.AGENT).user


@pytest.fixture
def viewer(tenant_a):
    return MembershipFactory(tenant=tenant_a, role=Role.VIEWER).user


@pytest.fixture
def outsider(tenant_b):
    """A member of another tenant only."""
    return MembershipFactory(tenant=tenant_b, role=Role.OWNER).user


@pytest.fixture
def scope_a(tenant_a):
    with scope(tenant=tenant_a):
        yield tenant_a


def api_client_for(tenant) -> Client:
    _key, raw = api_key_create(tenant=tenant)
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")


@pytest.fixture
def api_a(tenant_a):
    return api_client_for(tenant_a)


@pytest.fixture
def api_b(tenant_b):
    return api_client_for(tenant_b)


@pytest.fixture
def login():
    def _login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def twilio(settings):
    """A loopback fake of Twilio's API, which the twilio SDK is pointed at."""
    with FakeProvider(twilio_answer) as fake:
        settings.TWILIO_API_BASE = fake.url
        yield fake


@pytest.fixture
def sendgrid(settings):
    """A loopback fake of SendGrid's API, which the sendgrid SDK is pointed at."""
    with FakeProvider(sendgrid_answer) as fake:
        settings.SENDGRID_API_HOST = fake.url
        yield fake


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with empty rate-limit counters (the test settings' local cache)."""
    cache.clear()


@pytest.fixture
def outbox(settings, tmp_path):
    """A private outbox file for the console provider."""
    settings.MESSAGING_OUTBOX_PATH = tmp_path / "outbox.jsonl"
    return settings.MESSAGING_OUTBOX_PATH


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """POST an import job's form; the job queued on commit runs here (tests run Celery
    eagerly)."""

    def _start(client, job, data: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/imports/{job.pk}/", data)

    return _start
