"""The "Envios com problema" page in Chromium, at desktop and phone sizes: reached from the
settings, it shows each problem with its reason and state in words, no sideways scroll, no
serious axe-core finding, and a person marks an unknown send as sent from it; screenshots are
kept as artifacts."""

import pytest
from django_scopes import scopes_disabled

from messaging.models import Message, MessageStatus
from tests.browser import PROJECT_ROOT, expect, log_in, screenshot
from tests.conftest import require_service
from tests.messaging.problem_messages import failed_message, stuck_message, unknown_message
from tests.tenants.factories import MembershipFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
SERIOUS = (
    "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_admin_finds_the_problems_and_settles_an_unknown_send(
    live_server, sized_page, size, tenant_a
):
    require_service(AXE.is_file(), f"{AXE} is missing (npm ci at the repository root)")
    admin = MembershipFactory(tenant=tenant_a, role="admin").user
    unknown, _invoice = unknown_message(tenant_a, recipient="+5511912345678")
    failed_message(tenant_a, recipient="joana.pereira.da.silva@example.com", channel="email")
    stuck_message(tenant_a, recipient="+5511987654321")
    page = sized_page
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("link", name="Envios com problema").click()
    expect(page.get_by_role("heading", name="Envios com problema")).to_be_visible()
    rows = page.locator("[data-message-row]")
    expect(rows).to_have_count(3)
    row = page.locator(f'[data-message-row="{unknown.pk}"]')
    expect(row).to_contain_text("Envio a confirmar")
    expect(row).to_contain_text("read timeout")
    expect(page.locator('[data-count="unknown"] strong')).to_have_text("1")
    assert page.evaluate(OVERFLOW) <= 0
    page.evaluate(AXE.read_text())
    assert page.evaluate(SERIOUS) == []
    screenshot(page, f"message-problems-{size}")

    row.get_by_role("button", name="Marcar como enviada").click()
    expect(page.locator(".messages")).to_contain_text("Marcada como enviada")
    expect(page.locator("[data-message-row]")).to_have_count(2)
    expect(page.locator('[data-count="unknown"] strong')).to_have_text("0")
    with scopes_disabled():
        assert Message.objects.get(pk=unknown.pk).status == MessageStatus.SENT
    screenshot(page, f"message-problems-settled-{size}")
