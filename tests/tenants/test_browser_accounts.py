"""Accounts in Chromium: the owner invites a member from the team page (desktop and phone,
no password anywhere on it), the newcomer opens the e-mailed link, chooses a password the
validators accept and lands in the company; the reset page answers on a phone."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

from tenants.models import Membership, Role
from tests.browser import DESKTOP, artifacts_dir, log_in, new_page, screenshot
from tests.tenants.factories import MembershipFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GOOD = "Cobranca-Em-Dia-2026"


def no_sideways_scroll(page) -> bool:
    # The viewport's own width: a phone's layout viewport grows to fit wide content.
    width = page.viewport_size["width"]
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_invite_a_member_and_they_choose_their_password(live_server, page, tenant_a, owner):
    for role in (Role.ADMIN, Role.AGENT, Role.VIEWER):
        MembershipFactory(tenant=tenant_a, role=role)
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/settings/team/")
    page.get_by_label("E-mail").fill("nova.colaboradora@escoladeidiomasaurora.com.br")
    page.get_by_label("Papel", exact=True).select_option("agent")
    page.get_by_role("button", name="Enviar convite").click()
    page.wait_for_load_state()
    assert page.get_by_text("Convite enviado para").is_visible()
    assert page.get_by_text("Convite pendente").is_visible()
    assert no_sideways_scroll(page)
    screenshot(page, "accounts-team-phone")
    page.set_viewport_size(DESKTOP["viewport"])
    assert no_sideways_scroll(page)
    screenshot(page, "accounts-team-desktop")
    body = page.inner_text("body")
    assert "senha:" not in body.lower() and "Operador" not in body

    [message] = mail.outbox
    (mail_dir := artifacts_dir()).mkdir(parents=True, exist_ok=True)
    (mail_dir / "accounts-invite-email.txt").write_text(
        f"Para: {', '.join(message.to)}\nAssunto: {message.subject}\n\n{message.body}"
    )
    [url] = re.findall(r"https?://\S+", message.body)

    newcomer = new_page(page.context.browser, "phone")
    newcomer.goto(live_server.url + urlsplit(url).path)
    assert newcomer.get_by_role("heading", name="Entrar na equipe de Escola Aurora").is_visible()
    newcomer.get_by_label("Nova senha", exact=True).fill("curta")
    newcomer.get_by_label("Confirmação da nova senha").fill("curta")
    newcomer.get_by_role("button", name="Salvar e entrar").click()
    newcomer.wait_for_load_state()
    assert newcomer.get_by_text("Esta senha é muito curta").is_visible()
    assert no_sideways_scroll(newcomer)
    screenshot(newcomer, "accounts-set-password-phone")
    newcomer.get_by_label("Nova senha", exact=True).fill(GOOD)
    newcomer.get_by_label("Confirmação da nova senha").fill(GOOD)
    newcomer.get_by_role("button", name="Salvar e entrar").click()
    newcomer.wait_for_url(f"{live_server.url}/")
    assert newcomer.get_by_text("Boas-vindas à equipe de Escola Aurora").is_visible()
    newcomer.context.close()
    member = Membership.objects.get(user__email="nova.colaboradora@escoladeidiomasaurora.com.br")
    assert member.tenant == tenant_a and member.role == Role.AGENT
    assert member.user.check_password(GOOD)


def test_the_reset_page_on_a_phone(live_server, page, owner):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Esqueceu a senha?").click()
    page.get_by_label("E-mail").fill(owner.email)
    page.get_by_role("button", name="Enviar o link").click()
    assert page.get_by_role("heading", name="Confira seu e-mail").is_visible()
    assert no_sideways_scroll(page)
    screenshot(page, "accounts-reset-sent-phone")
    assert len(mail.outbox) == 1
