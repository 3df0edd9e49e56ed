"""Accounts: a member joins by an e-mailed, signed and expiring invitation and chooses their own
password (the owner never sees one); an existing user of another company is added with their
password untouched and told by e-mail; a logged-in user changes their password; anyone resets
it by e-mail without learning whether an address has an account. The password validators
apply on every path, and the login throttle keeps working."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from tenants.models import Membership, Role, User
from tests.tenants.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db

GOOD = "Cobranca-Em-Dia-2026"
TEAM = "/settings/team/"


def link_in(message) -> str:
    """The path of the one link in an e-mail."""
    [url] = re.findall(r"https?://\S+", message.body)
    return urlsplit(url).path


def without_csrf_tokens(response) -> str:
    return re.sub(
        r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', "", response.content.decode()
    )


def invite(client, email, role="agent"):
    return client.post(TEAM, {"email": email, "role": role}, follow=True)


def test_an_owner_invites_by_e_mail_and_the_newcomer_chooses_their_password(tenant_a, owner, login):
    client = login(owner)
    page = invite(client, "Nova@Escola.com", "agent")
    text = page.content.decode()
    assert "Convite enviado para nova@escola.com" in text.replace("<wbr>", "")
    newcomer = User.objects.get(email="nova@escola.com")
    assert not newcomer.has_usable_password()
    assert "data-new-password" not in text and "<code>" not in text

    [message] = mail.outbox
    assert message.to == ["nova@escola.com"]
    assert message.subject == "Seu convite para Escola Aurora no Régua"
    assert "como Agente" in message.body and owner.email in message.body
    assert "expira em 3 dias" in message.body
    link = link_in(message)
    assert link.startswith("/accounts/invite/tenant-a/")

    guest = Client()
    form_page = guest.get(link, follow=True)
    assert "Entrar na equipe de Escola Aurora" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    weak = guest.post(set_url, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200
    assert "Esta senha é muito curta" in weak.content.decode()
    assert not User.objects.get(pk=newcomer.pk).has_usable_password()

    done = guest.post(set_url, {"new_password1": GOOD, "new_password2": GOOD}, follow=True)
    assert done.redirect_chain[-1][0] == "/"
    assert (
        done.status_code == 200 and "Boas-vindas à equipe de Escola Aurora" in done.content.decode()
    )
    assert int(guest.session["_auth_user_id"]) == newcomer.pk
    assert guest.session["tenant_id"] == tenant_a.pk
    newcomer.refresh_from_db()
    assert newcomer.check_password(GOOD)
    assert Membership.objects.get(tenant=tenant_a, user=newcomer).role == Role.AGENT

    # The link works once.
    again = Client().get(link, follow=True)
    assert "Este convite não funciona mais" in again.content.decode()


def test_no_page_of_the_team_ever_shows_a_password(tenant_a, owner, login):
    client = login(owner)
    responses = [invite(client, "a@escola.com"), client.get(TEAM)]
    membership = Membership.objects.get(user__email="a@escola.com")
    responses.append(client.post(f"/settings/team/{membership.pk}/resend/", follow=True))
    for response in responses:
        assert response.status_code == 200
        assert "new_password" not in (response.context or {})
        assert "data-new-password" not in response.content.decode()
    assert len(mail.outbox) == 2  # the invitation and its resend


def test_an_expired_invitation_is_refused(tenant_a, owner, login):
    invite(login(owner), "tarde@escola.com")
    link = link_in(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=3, hours=1)):
        page = Client().get(link, follow=True)
    assert "Este convite não funciona mais" in page.content.decode()
    assert "new_password1" not in page.content.decode()


def test_a_forged_or_reset_token_does_not_open_the_invitation(tenant_a, owner, login):
    invite(login(owner), "forja@escola.com")
    link = link_in(mail.outbox[0])
    head, token = link.rstrip("/").rsplit("/", 1)
    forged = f"{head}/{token[:-1]}{'a' if token[-1] != 'a' else 'b'}/"
    page = Client().get(forged, follow=True)
    assert "Este convite não funciona mais" in page.content.decode()
    # A password-reset token for the same user is not an invitation token.
    from django.contrib.auth.tokens import default_token_generator

    user = User.objects.get(email="forja@escola.com")
    reset_token = default_token_generator.make_token(user)
    page = Client().get(f"{head}/{reset_token}/", follow=True)
    assert "Este convite não funciona mais" in page.content.decode()


def test_a_pending_invitation_is_resent_and_an_active_member_is_not(tenant_a, owner, agent, login):
    client = login(owner)
    invite(client, "pendente@escola.com")
    team = client.get(TEAM).content.decode()
    assert "Convite pendente" in team and "Reenviar convite" in team
    pending = Membership.objects.get(user__email="pendente@escola.com")
    client.post(f"/settings/team/{pending.pk}/resend/")
    assert [m.to for m in mail.outbox] == [["pendente@escola.com"]] * 2
    active = Membership.objects.get(user=agent)
    page = client.post(f"/settings/team/{active.pk}/resend/", follow=True)
    assert "já escolheu uma senha" in page.content.decode()
    assert len(mail.outbox) == 2


def test_an_existing_user_of_another_company_is_added_and_told_password_untouched(
    tenant_a, owner, outsider, login
):
    before = outsider.password
    page = invite(login(owner), outsider.email.upper(), "viewer")
    assert "já tem conta no Régua" in page.content.decode()
    outsider.refresh_from_db()
    assert outsider.password == before and outsider.check_password(PASSWORD)
    assert Membership.objects.get(tenant=tenant_a, user=outsider).role == Role.VIEWER
    [message] = mail.outbox
    assert message.to == [outsider.email]
    assert message.subject == "Você foi adicionado à equipe de Escola Aurora no Régua"
    assert "como Leitor" in message.body and "sua senha não mudou" in message.body
    assert "/accounts/invite/" not in message.body


def test_an_admin_invites_up_to_admin_and_an_agent_cannot_invite(tenant_a, login):
    admin = MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user
    client = login(admin)
    page = client.get(TEAM).content.decode()
    assert 'value="owner"' not in page.split("Convidar alguém")[1]
    invite(client, "novo-admin@escola.com", "admin")
    assert Membership.objects.get(user__email="novo-admin@escola.com").role == Role.ADMIN
    refused = invite(client, "dono@escola.com", "owner")
    assert refused.status_code == 200
    assert not User.objects.filter(email="dono@escola.com").exists()
    agent = MembershipFactory(tenant=tenant_a, role=Role.AGENT).user
    assert login(agent).post(TEAM, {"email": "x@y.com", "role": "viewer"}).status_code == 403
    assert not User.objects.filter(email="x@y.com").exists()


def test_another_tenants_member_gets_no_resend(tenant_a, tenant_b, owner, outsider, login):
    theirs = Membership.objects.get(tenant=tenant_b, user=outsider)
    assert login(owner).post(f"/settings/team/{theirs.pk}/resend/").status_code == 404
    assert mail.outbox == []


# --- Password change -----------------------------------------------------------------------


def test_a_logged_in_user_changes_their_password_with_the_validators(owner, login):
    client = login(owner)
    page = client.get("/accounts/password/")
    assert page.status_code == 200 and "Alterar senha" in page.content.decode()
    wrong = client.post(
        "/accounts/password/",
        {"old_password": "errada", "new_password1": GOOD, "new_password2": GOOD},
    )
    assert "A senha antiga foi digitada incorretamente" in wrong.content.decode()
    weak = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert "Esta senha é muito comum" in weak.content.decode()
    done = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": GOOD, "new_password2": GOOD},
        follow=True,
    )
    assert "Senha alterada" in done.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(GOOD)
    assert client.get("/").status_code == 200  # still logged in on this device


def test_the_password_change_page_needs_a_login(db):
    response = Client().get("/accounts/password/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_the_header_links_to_the_password_change(owner, login):
    assert 'href="/accounts/password/"' in login(owner).get("/").content.decode()


# --- Password reset ------------------------------------------------------------------------


def test_reset_answers_the_same_for_a_known_and_an_unknown_address(owner):
    known = Client().post("/accounts/password/reset/", {"email": owner.email}, follow=True)
    unknown = Client().post(
        "/accounts/password/reset/", {"email": "ninguem@example.com"}, follow=True
    )
    assert (
        known.redirect_chain == unknown.redirect_chain == [("/accounts/password/reset/sent/", 302)]
    )
    assert without_csrf_tokens(known) == without_csrf_tokens(unknown)
    assert "Confira seu e-mail" in known.content.decode()
    [message] = mail.outbox
    assert message.to == [owner.email]
    assert message.subject == "Redefina sua senha do Régua"
    assert "Alguém pediu para redefinir a senha" in message.body


def test_the_reset_link_sets_a_validated_password_once(owner):
    Client().post("/accounts/password/reset/", {"email": owner.email})
    link = link_in(mail.outbox[0])
    assert link.startswith("/accounts/password/reset/")
    client = Client()
    form_page = client.get(link, follow=True)
    assert "Escolha uma nova senha" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    weak = client.post(set_url, {"new_password1": "abc", "new_password2": "abc"})
    assert "Esta senha é muito curta" in weak.content.decode()
    done = client.post(set_url, {"new_password1": GOOD, "new_password2": GOOD}, follow=True)
    assert "Senha salva" in done.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(GOOD)
    again = Client().get(link, follow=True)
    assert "Este link não funciona mais" in again.content.decode()


def test_an_invited_person_whose_invitation_expired_can_reset(tenant_a, owner, login):
    invite(login(owner), "esqueceu@escola.com")
    mail.outbox.clear()
    Client().post("/accounts/password/reset/", {"email": "esqueceu@escola.com"})
    [message] = mail.outbox
    assert message.to == ["esqueceu@escola.com"]


def test_the_reset_e_mail_links_to_the_configured_address_not_the_host_header(owner, settings):
    settings.PUBLIC_BASE_URL = "https://regua.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    Client().post("/accounts/password/reset/", {"email": owner.email}, HTTP_HOST="evil.example")
    assert "https://regua.example.com/accounts/password/reset/" in mail.outbox[0].body
    assert "evil.example" not in mail.outbox[0].body


def test_the_login_page_offers_the_reset_and_the_throttle_still_holds(owner):
    assert 'href="/accounts/password/reset/"' in Client().get("/accounts/login/").content.decode()
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": owner.email, "password": "x"})
    locked = client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD})
    assert locked.status_code == 429


# --- Role names ----------------------------------------------------------------------------

ROLE_NAMES = {
    "owner": "Proprietário",
    "admin": "Administrador",
    "agent": "Agente",
    "viewer": "Leitor",
}
OTHER_NAMES = re.compile(r"(?i)\b(operador(es|a)?|donos?|donas?|visualizador(es)?)\b")


def test_each_role_has_one_pt_br_name_on_the_team_page(tenant_a, owner, login):
    from django.utils import translation

    with translation.override("pt-br"):
        assert {code: str(label) for code, label in Role.choices} == ROLE_NAMES
    for role in ("admin", "agent", "viewer"):
        MembershipFactory(tenant=tenant_a, role=role)
    admin = Membership.objects.filter(tenant=tenant_a, role="admin").first().user
    for page in (login(owner).get(TEAM), login(admin).get(TEAM)):
        text = page.content.decode()
        for name in ROLE_NAMES.values():
            assert f">{name}<" in text
        assert not OTHER_NAMES.search(text), OTHER_NAMES.search(text)


def test_no_template_nor_translation_names_a_role_otherwise():
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    texts = {p: p.read_text() for p in (root / "templates").rglob("*.html")}
    texts |= {p: p.read_text() for p in (root / "templates").rglob("*.txt")}
    po = root / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"
    texts[po] = "\n".join(re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n)+)', po.read_text(), re.M))
    offenders = {str(p): m.group(0) for p, t in texts.items() if (m := OTHER_NAMES.search(t))}
    assert offenders == {}
