"""The template editor, company settings and webhooks pages in Chromium (issue 16): the
editor shows the fields of the chosen channel as it changes, and the variables table keeps
every name whole on a phone; screenshots at desktop and phone sizes are kept as artifacts."""

import pytest
from django_scopes import scope

from messaging.models import Template
from tests.browser import expect, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Each variable's name (an inline <code>) on one line box, and no sideways scroll.
WHOLE_NAMES = """() => [...document.querySelectorAll('#template-variables code')]
    .filter(code => code.getClientRects().length !== 1).map(code => code.textContent)"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def visible(page, name: str) -> bool:
    return page.locator(f'.field[data-field="{name}"]').is_visible()


def test_the_editor_shows_the_fields_of_the_channel_and_whole_variable_names_on_a_phone(
    live_server, page, tenant_a, owner
):
    with scope(tenant=tenant_a):
        template = Template.objects.get(key="due_today", channel="sms")
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/settings/templates/{template.pk}/")
    expect(page.locator('.field[data-field="body"]')).to_be_visible()
    assert not visible(page, "subject") and not visible(page, "content_sid")
    assert page.evaluate(WHOLE_NAMES) == []
    assert page.evaluate(OVERFLOW) <= 0
    screenshot(page, "template-editor-sms-phone")

    channel = page.locator('select[name="channel"]')
    channel.select_option("email")
    expect(page.locator('.field[data-field="subject"]')).to_be_visible()
    assert not visible(page, "content_sid") and not visible(page, "content_variables")
    channel.select_option("whatsapp")
    expect(page.locator('.field[data-field="content_sid"]')).to_be_visible()
    expect(page.locator('.field[data-field="content_variables"]')).to_be_visible()
    assert not visible(page, "subject")
    channel.select_option("sms")
    expect(page.locator('.field[data-field="content_sid"]')).to_be_hidden()
    assert not visible(page, "subject") and not visible(page, "content_variables")


def test_the_settings_pages_at_desktop_and_phone_sizes(
    live_server, page, desktop_page, tenant_a, owner
):
    with scope(tenant=tenant_a):
        template = Template.objects.get(key="due_today", channel="email")
    pages = {
        "template-editor-email": f"/settings/templates/{template.pk}/",
        "company-settings": "/settings/company/",
        "webhooks": "/settings/webhooks/",
    }
    for size, tab in (("desktop", desktop_page), ("phone", page)):
        log_in(tab, live_server, owner)
        for name, path in pages.items():
            tab.goto(f"{live_server.url}{path}")
            assert tab.evaluate(OVERFLOW) <= 0, (name, size)
            if name.startswith("template"):
                assert tab.evaluate(WHOLE_NAMES) == [], size
            if name == "company-settings":
                # No input sticks out of its card.
                sticking = tab.evaluate(
                    """() => [...document.querySelectorAll('.settings-form .card')]
                      .flatMap(card => {
                        const box = card.getBoundingClientRect();
                        return [...card.querySelectorAll('input, select')]
                          .filter(el => el.type !== 'hidden' && el.type !== 'checkbox')
                          .filter(el => el.getBoundingClientRect().right > box.right + 0.5)
                          .map(el => el.name);
                    })"""
                )
                assert sticking == [], size
            if name == "webhooks":
                details = tab.locator("details.developers")
                expect(details.locator("summary")).to_be_visible()
                assert details.get_attribute("open") is None  # folded until asked
            screenshot(tab, f"{name}-{size}")
