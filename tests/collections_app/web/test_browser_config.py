"""The owner's settings flows in Chromium on a desktop: edit a step of the default ladder inline
(the row and the timeline redrawn without a reload, a refused edit shown in the row) and write
an SMS template against its live preview. Screenshots are kept as artifacts."""

import re

import pytest
from django_scopes import scope

from collections_app.models import Ladder, LadderStep
from messaging.models import Template
from tests.browser import expect, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def open_settings(page, live_server, card: str):
    """From the main nav to Configurações, then the settings card named `card`."""
    page.get_by_role("link", name="Configurações", exact=True).click()
    page.wait_for_url(f"{live_server.url}/settings/")
    page.get_by_role("link", name=re.compile(f"^{card}")).click()


def htmx_settled(page):
    """Wait until HTMX has no request in flight and has settled its last swap: until then the
    swapped-in links and forms are not wired yet, and a click would bypass HTMX."""
    # A locator wait, not wait_for_function: the Content-Security-Policy forbids the eval that
    # wait_for_function runs in the page.
    page.locator(".htmx-request, .htmx-swapping, .htmx-settling").first.wait_for(state="detached")


def marker(timeline, offset: int):
    """A step's marker on the timeline (zero-width: its dot and text are what show)."""
    return timeline.locator(f'li.marker[data-offset="{offset}"]')


def test_the_owner_edits_a_ladder_step_inline(live_server, desktop_page, tenant_a, owner):
    with scope(tenant=tenant_a):
        ladder = Ladder.objects.get(is_default=True)
        step = ladder.steps.get(offset_days=3)
    page = desktop_page
    log_in(page, live_server, owner)
    open_settings(page, live_server, "Réguas")
    page.get_by_role("link", name=ladder.name).click()
    page.wait_for_url(f"{live_server.url}/settings/ladders/{ladder.pk}/")
    timeline = page.locator("#ladder-timeline")
    expect(marker(timeline, 3)).to_have_attribute("data-step-id", str(step.pk))
    expect(page.locator("#ladder-preview .ladder-preview")).to_be_visible()  # loaded by HTMX
    screenshot(page, "config-ladder-editor")
    page.evaluate("window.notReloaded = true")  # gone if the page reloads

    row = page.locator(f"#step-{step.pk}")
    row.get_by_role("link", name="Editar D+3").click()
    expect(row).to_have_attribute("data-editing", "true")
    htmx_settled(page)
    row.get_by_label("Dia em relação ao vencimento").fill("4")
    screenshot(page, "config-ladder-step-form")
    row.get_by_role("button", name="Salvar etapa").click()
    expect(row).to_have_attribute("data-label", "D+4")
    expect(row.get_by_role("rowheader")).to_have_text("D+4")
    expect(marker(timeline, 4)).to_have_attribute("data-step-id", str(step.pk))
    expect(marker(timeline, 4).locator(".marker-text")).to_contain_text("D+4")
    expect(marker(timeline, 3)).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "config-ladder-step-saved")
    with scope(tenant=tenant_a):
        step.refresh_from_db()
    assert step.offset_days == 4

    # Refused: the day of the D+7 step, and no channel left for a message step.
    htmx_settled(page)
    row.get_by_role("link", name="Editar D+4").click()
    expect(row).to_have_attribute("data-editing", "true")
    htmx_settled(page)
    row.get_by_label("Dia em relação ao vencimento").fill("7")
    row.get_by_label("Canal 1").select_option("")
    row.get_by_label("Canal 2").select_option("")
    row.get_by_role("button", name="Salvar etapa").click()
    expect(row.locator(f"#step-{step.pk}-offset-errors")).to_have_text(
        "Duas etapas no mesmo dia da régua."
    )
    expect(row.locator(f"#step-{step.pk}-channels-errors")).to_have_text(
        "Uma etapa de mensagem precisa de pelo menos um canal."
    )
    expect(row.get_by_label("Dia em relação ao vencimento")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(marker(timeline, 4)).to_have_attribute("data-step-id", str(step.pk))
    expect(marker(timeline, 7)).to_have_count(1)
    screenshot(page, "config-ladder-step-refused")
    with scope(tenant=tenant_a):
        step.refresh_from_db()
        offsets = sorted(LadderStep.objects.filter(ladder=ladder).values_list("offset_days"))
    assert step.offset_days == 4 and step.channels == ["email", "whatsapp"]
    assert [offset for (offset,) in offsets] == [-5, -1, 0, 4, 7, 15]

    htmx_settled(page)
    row.get_by_role("link", name="Cancelar").click()
    expect(row.get_by_role("rowheader")).to_have_text("D+4")
    assert page.evaluate("window.notReloaded") is True


def test_the_owner_writes_an_sms_template_against_the_live_preview(
    live_server, desktop_page, tenant_a, owner
):
    with scope(tenant=tenant_a):
        template = Template.objects.get(key="due_today", channel="sms")
    original = template.body
    page = desktop_page
    log_in(page, live_server, owner)
    open_settings(page, live_server, "Modelos de mensagem")
    family = page.locator('section[data-template-key="due_today"]')
    family.locator('tr[data-channel="sms"]').get_by_role("link", name="Editar").click()
    page.wait_for_url(f"{live_server.url}/settings/templates/{template.pk}/")

    body = page.get_by_label("Texto")
    preview = page.locator("#template-preview")
    text = "Olá {{ customer_name }}, sua fatura vence em {{ due_date }}."
    body.fill(text)
    expect(preview.locator('[data-preview="body"]')).to_have_text(
        "Olá Maria Souza, sua fatura vence em 10/12/2026."
    )
    sms = preview.locator('[data-preview="sms"]')
    expect(sms).to_have_text("SMS em UCS-2: 48 caracteres, 1 segmento.")
    expect(sms).to_have_attribute("data-sms-segments", "1")
    expect(preview).to_have_attribute("data-preview-ok", "true")
    screenshot(page, "config-template-preview")

    body.fill("{{ ''.__class__.__mro__ }}")
    expect(preview).to_have_attribute("data-preview-ok", "false")
    expect(preview.locator('#template-preview-errors [data-error-field="body"]')).to_contain_text(
        "Acesso a atributos e itens não é permitido"
    )
    expect(preview.locator('[data-preview="body"]')).to_have_count(0)
    screenshot(page, "config-template-preview-refused")
    with scope(tenant=tenant_a):
        template.refresh_from_db()
    assert template.body == original  # the preview writes nothing

    body.fill(text)
    expect(preview).to_have_attribute("data-preview-ok", "true")
    page.get_by_role("button", name="Salvar modelo").click()
    expect(page.get_by_text("Modelo salvo.")).to_be_visible()
    expect(page.get_by_label("Texto")).to_have_value(text)
    screenshot(page, "config-template-saved")
    with scope(tenant=tenant_a):
        template.refresh_from_db()
    assert template.body == text
