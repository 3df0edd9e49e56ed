"""The 404 page, a refused upload's error beside its field and an agent's menu in Chromium, on a
desktop and a phone; screenshots are kept as artifacts."""

import re

import pytest

from tests.browser import expect, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_agent_meets_the_404_page_an_error_message_and_their_menu(
    live_server, sized_page, agent, size
):
    page = sized_page
    missing = []
    page.on(
        "response",
        lambda r: r.status == 404 and "/nada-aqui/" not in r.url and missing.append(r.url),
    )
    log_in(page, live_server, agent)

    page.goto(f"{live_server.url}/nada-aqui/")
    assert page.get_by_role("heading", name="Página não encontrada").is_visible()
    assert page.get_by_role("link", name="Ir para a visão geral").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"error-404-{size}")

    page.goto(f"{live_server.url}/imports/")
    page.get_by_label("Planilha (CSV ou XLSX)").set_input_files(
        {"name": "contas.xlsx", "mimeType": "application/octet-stream", "buffer": b"nada"}
    )
    page.get_by_role("button", name="Enviar").click()
    # A refused file is told right below the file field, as the field's description, in the
    # error colour; not as a message at the top of the page.
    error = page.locator("#import-file-errors")
    error.wait_for()
    assert error.inner_text().startswith("O arquivo não foi lido: ")
    field = page.locator("#import-file")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile("^O arquivo não foi lido: "))
    expect(field).to_be_focused()
    f, e = field.bounding_box(), error.bounding_box()
    assert f and e and 0 <= e["y"] - (f["y"] + f["height"]) <= 40, (f, e)
    # In the DOM before the stylesheet may have been applied: wait for the style.
    expect(error).to_have_css("color", "rgb(185, 28, 28)")
    assert page.locator(".messages .flash-error").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"message-error-{size}")

    page.goto(f"{live_server.url}/settings/")
    if size == "phone":  # on a phone the menu is folded behind "Menu" until opened
        page.locator("summary.menu-toggle").click()
    nav = page.get_by_role("navigation", name="Principal")
    assert nav.get_by_role("link", name="Banco").count() == 1
    cards = page.locator(".settings-index")
    assert cards.get_by_role("link", name="Chaves de API").count() == 0
    assert cards.get_by_role("link", name="Usuários e papéis").count() == 0
    screenshot(page, f"settings-agent-{size}")

    page.goto(f"{live_server.url}/favicon.ico")
    assert missing == []
