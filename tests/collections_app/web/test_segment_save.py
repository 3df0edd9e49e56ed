"""Segments are saved by one service, `segment_save`, and counted by `segment_counts` and
`segment_rule_count`: the segment page and `POST /api/v1/segments/` store the same segment and
refuse the same input with the same messages; neither sees another tenant's customers."""

import json

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.invoices.segments import (
    SegmentError,
    segment_counts,
    segment_rule_count,
    segment_save,
)
from collections_app.models import Ladder, Segment
from tenants.models import Role
from tests.collections_app.factories import InvoiceFactory, SegmentFactory
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(tenant_a):
    return MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user


def default_ladder(tenant) -> Ladder:
    with scopes_disabled():
        return Ladder.objects.get(tenant=tenant, is_default=True)


def api_post(api, data: dict):
    return api.post("/api/v1/segments/", json.dumps(data), content_type="application/json")


def stored(name: str) -> tuple:
    with scopes_disabled():
        segment = Segment.objects.get(name=name)
        return segment.tenant_id, segment.priority, segment.rule, segment.ladder_id


@pytest.mark.parametrize(
    ("page_rule", "api_rule"),
    [
        (
            {"rule_kind": "amount_at_least", "rule_amount": "1500.50"},
            {"kind": "amount_at_least", "value": "1500.50"},
        ),
        ({"rule_kind": "tag", "rule_tag": "vip"}, {"kind": "tag", "value": "vip"}),
        (
            {"rule_kind": "behaviour", "rule_behaviour": "chronically_late"},
            {"kind": "behaviour", "value": "chronically_late"},
        ),
        ({"rule_kind": "manual"}, {"kind": "manual"}),
    ],
)
def test_the_page_and_the_api_store_the_same_segment(
    tenant_a, admin, login, api_a, page_rule, api_rule
):
    ladder = default_ladder(tenant_a)
    page = login(admin).post(
        "/settings/segments/new/",
        {"name": "Pela página", "priority": "5", "ladder": ladder.pk, **page_rule},
    )
    assert page.status_code == 302
    api = api_post(
        api_a, {"name": "Pela API", "priority": 5, "ladder": ladder.pk, "rule": api_rule}
    )
    assert api.status_code == 201
    assert stored("Pela página") == stored("Pela API") == (tenant_a.pk, 5, api_rule, ladder.pk)


def test_the_page_and_the_api_refuse_a_taken_name_and_a_bad_rule_alike(
    tenant_a, admin, login, api_a
):
    ladder = default_ladder(tenant_a)
    SegmentFactory(tenant=tenant_a, ladder=ladder, name="VIP", rule={"kind": "manual"})
    client = login(admin)
    taken = client.post(
        "/settings/segments/new/",
        {"name": "VIP", "priority": "1", "ladder": ladder.pk, "rule_kind": "tag", "rule_tag": "x"},
    )
    api_taken = api_post(
        api_a, {"name": "VIP", "ladder": ladder.pk, "rule": {"kind": "tag", "value": "x"}}
    )
    assert api_taken.status_code == 400
    assert taken.context["errors"]["name"] == api_taken.json()["name"]

    bad = client.post(
        "/settings/segments/new/",
        {"name": "Novo", "priority": "1", "ladder": ladder.pk, "rule_kind": "behaviour"},
    )
    api_bad = api_post(api_a, {"name": "Novo", "ladder": ladder.pk, "rule": {"kind": "behaviour"}})
    assert api_bad.status_code == 400
    assert bad.context["errors"]["rule"] == api_bad.json()["rule"]
    with scopes_disabled():
        assert list(Segment.objects.values_list("name", flat=True)) == ["VIP"]


def test_an_edit_by_the_page_and_by_the_api_gives_the_same_segment(tenant_a, admin, login, api_a):
    ladder = default_ladder(tenant_a)
    one = SegmentFactory(tenant=tenant_a, ladder=ladder, name="Um", rule={"kind": "manual"})
    two = SegmentFactory(tenant=tenant_a, ladder=ladder, name="Dois", rule={"kind": "manual"})
    tag_a = {"kind": "tag", "value": "a"}
    page = login(admin).post(
        f"/settings/segments/{one.pk}/",
        {"name": "Um", "priority": "9", "ladder": ladder.pk, "rule_kind": "tag", "rule_tag": "a"},
    )
    assert page.status_code == 302
    api = api_a.put(
        f"/api/v1/segments/{two.pk}/",
        json.dumps({"name": "Dois", "priority": 9, "ladder": ladder.pk, "rule": tag_a}),
        content_type="application/json",
    )
    assert api.status_code == 200
    assert stored("Um") == stored("Dois") == (tenant_a.pk, 9, tag_a, ladder.pk)


def test_segment_save_refuses_another_tenants_ladder_and_segment(tenant_a, tenant_b):
    theirs = default_ladder(tenant_b)
    with scope(tenant=tenant_a), pytest.raises(SegmentError) as refused:
        segment_save(tenant=tenant_a, name="X", priority=1, rule={"kind": "manual"}, ladder=theirs)
    assert set(refused.value.errors) == {"ladder"}
    their_segment = SegmentFactory(tenant=tenant_b, ladder=theirs, rule={"kind": "manual"})
    with scope(tenant=tenant_a), pytest.raises(Segment.DoesNotExist):
        segment_save(
            tenant=tenant_a,
            name="Y",
            priority=1,
            rule={"kind": "manual"},
            ladder=default_ladder(tenant_a),
            segment=their_segment,
        )
    with scopes_disabled():
        assert not Segment.objects.filter(tenant=tenant_a).exists()


def test_the_counts_read_only_the_tenants_customers(tenant_a, tenant_b):
    InvoiceFactory(tenant=tenant_a, customer={"external_id": "A", "name": "A", "tags": ["vip"]})
    InvoiceFactory(tenant=tenant_b, customer={"external_id": "B", "name": "B", "tags": ["vip"]})
    InvoiceFactory(tenant=tenant_b, customer={"external_id": "C", "name": "C", "tags": ["vip"]})
    vip = SegmentFactory(
        tenant=tenant_a, ladder=default_ladder(tenant_a), rule={"kind": "tag", "value": "vip"}
    )
    with scope(tenant=tenant_a):
        assert segment_counts(tenant=tenant_a, segments=[vip]) == {
            vip.pk: {"matching": 1, "landing": 1}
        }
        assert segment_rule_count(tenant=tenant_a, rule={"kind": "tag", "value": "vip"}) == 1
    with scope(tenant=tenant_b):
        assert segment_rule_count(tenant=tenant_b, rule={"kind": "tag", "value": "vip"}) == 2
