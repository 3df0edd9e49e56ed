"""Every form control on the team's pages and the debtor's page has a name a screen reader
can read (a <label for>, an enclosing <label>, or aria-label / aria-labelledby), every image
has alternative text, and each page says its language and has one main heading."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django_scopes import scope

from collections_app.imports.jobs import import_job_create
from collections_app.models import Ladder, Segment
from messaging.models import Template
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory
from tests.collections_app.imports.test_import import GOOD, csv_bytes

pytestmark = pytest.mark.django_db

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class Audit(HTMLParser):
    def __init__(self):
        super().__init__()
        self.labels_for: set[str] = set()
        self.controls: list[dict] = []
        self.in_label = 0
        self.images_without_alt = 0
        self.h1 = 0
        self.lang = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.labels_for.add(a["for"])
        elif tag == "img" and "alt" not in a:
            self.images_without_alt += 1
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("type", "text") in UNLABELLED_TYPES:
                return
            self.controls.append({**a, "_tag": tag, "_in_label": self.in_label > 0})

    def handle_endtag(self, tag):
        if tag == "label" and self.in_label:
            self.in_label -= 1

    def unlabelled(self) -> list[str]:
        return [
            f"<{c['_tag']} name={c.get('name')!r} id={c.get('id')!r}>"
            for c in self.controls
            if not (
                c["_in_label"]
                or c.get("aria-label")
                or c.get("aria-labelledby")
                or (c.get("id") and c["id"] in self.labels_for)
            )
        ]


def audit(html: str) -> Audit:
    parser = Audit()
    parser.feed(html)
    return parser


def test_every_control_on_the_teams_pages_is_labelled(tenant_a, owner, login):
    today = tenant_today(tenant=tenant_a)
    invoice = InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=4), amount="150.00")
    with scope(tenant=tenant_a):
        ladder = Ladder.objects.get(is_default=True)
        segment = Segment.objects.create(
            tenant=tenant_a,
            name="VIP",
            priority=1,
            rule={"kind": "tag", "value": "vip"},
            ladder=ladder,
        )
        template = Template.objects.filter(channel="sms").first()
        step = ladder.steps.first()
        draft = import_job_create(
            tenant=tenant_a, filename="faturas.csv", content=csv_bytes(*GOOD, "x;;;;;;;;;")
        )
    client = login(owner)
    pages = [
        "/",
        "/invoices/",
        f"/invoices/{invoice.pk}/",
        f"/customers/{invoice.customer_id}/",
        "/tasks/",
        "/replies/",
        "/bank/",
        "/imports/",
        f"/imports/{draft.pk}/",
        "/settings/",
        "/settings/company/",
        "/settings/team/",
        "/settings/api-keys/",
        "/settings/webhooks/",
        "/settings/ladders/",
        f"/settings/ladders/{ladder.pk}/",
        f"/settings/ladders/{ladder.pk}/steps/{step.pk}/edit/",
        "/settings/segments/",
        f"/settings/segments/{segment.pk}/",
        "/settings/templates/",
        f"/settings/templates/{template.pk}/",
        "/settings/providers/",
        "/settings/providers/new/",
    ]
    problems = {}
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        page = audit(response.content.decode())
        issues = page.unlabelled()
        if page.images_without_alt:
            issues.append(f"{page.images_without_alt} image(s) without alt")
        if not path.endswith("/edit/") and (page.lang is None or page.h1 != 1):
            issues.append(f"lang={page.lang!r}, {page.h1} <h1>")
        if issues:
            problems[path] = issues
    assert problems == {}


def test_every_control_on_the_payment_page_is_labelled(tenant_a, client):
    tenant_a.pix_key = "12345678000195"
    tenant_a.merchant_name = "Escola"
    tenant_a.merchant_city = "Recife"
    tenant_a.save()
    invoice = InvoiceFactory(
        tenant=tenant_a,
        due_date=tenant_today(tenant=tenant_a) - timedelta(days=3),
        amount="99.00",
        customer={
            "external_id": "D",
            "name": "D",
            "document": "52998224725",
            "email": "d@example.com",
            "phone": "+5511987654321",
        },
    )
    page = audit(client.get(f"/p/{invoice.payment_token}").content.decode())
    assert page.unlabelled() == []
    assert page.lang == "pt-br" and page.h1 == 1 and page.images_without_alt == 0
