"""The admin's ladder editor and segment pages: roles, inline HTMX editing validated like the
API, the timeline, the forecast of the next sends, segment counts and tenant isolation."""

import json
import re
from datetime import timedelta

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.engine.forecast import tenant_forecast
from collections_app.models import Dispatch, Ladder, LadderStep, Segment
from tenants.models import Role
from tenants.selectors import tenant_today
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.factories import MembershipFactory

pytestmark = [pytest.mark.django_db]
HTMX = {"HTTP_HX_REQUEST": "true"}
DEFAULT_OFFSETS = [-5, -1, 0, 3, 7, 15]


@pytest.fixture
def admin(tenant_a):
    return MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user


def default_ladder(tenant):
    with scopes_disabled():
        return Ladder.objects.get(tenant=tenant, is_default=True)


def step_at(tenant, offset: int) -> LadderStep:
    with scopes_disabled():
        return LadderStep.objects.get(ladder=default_ladder(tenant), offset_days=offset)


def steps_of(ladder) -> list[tuple]:
    with scopes_disabled():
        return list(
            LadderStep.objects.filter(ladder=ladder).values_list(
                "offset_days", "kind", "channels", "template_key", "active"
            )
        )


def step_form(step: LadderStep, **changes) -> dict:
    """The POST the step's form sends, with `changes`."""
    data = {
        "offset_days": str(step.offset_days),
        "day_kind": step.day_kind,
        "kind": step.kind,
        "channel_mode": step.channel_mode,
        "template_key": step.template_key,
        "task_title": step.task_title,
        "min_amount": "" if step.min_amount is None else str(step.min_amount),
        **{f"channel_{i}": c for i, c in enumerate(step.channels, start=1)},
    }
    if step.skip_while_promise:
        data["skip_while_promise"] = "on"
    if step.active:
        data["active"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def timeline_offsets(html: str) -> list[int]:
    timeline = re.search(r'<figure id="ladder-timeline".*?</figure>', html, re.S).group(0)
    return [int(o) for o in re.findall(r'data-offset="(-?\d+)"', timeline)]


def is_partial(response) -> bool:
    return "<html" not in response.content.decode()


# Reading ---------------------------------------------------------------------------------


def test_viewer_reads_ladders_editor_preview_and_segments(login, viewer, tenant_a):
    client = login(viewer)
    ladder = default_ladder(tenant_a)
    listing = client.get("/settings/ladders/")
    assert listing.status_code == 200
    assert f'data-ladder-id="{ladder.pk}" data-steps="6" data-default="true"' in (
        listing.content.decode()
    )
    editor = client.get(f"/settings/ladders/{ladder.pk}/")
    page = editor.content.decode()
    assert editor.status_code == 200
    for label in ("D-5", "D-1", "D0", "D+3", "D+7", "D+15"):
        assert f'data-label="{label}"' in page
    # A viewer sees no editing controls.
    assert "/edit/" not in page and 'id="add-step"' not in page
    assert client.get(f"/settings/ladders/{ladder.pk}/preview/").status_code == 200
    assert client.get("/settings/segments/").status_code == 200
    assert client.get("/settings/segments/count/?rule_kind=tag&rule_tag=x").status_code == 200


def test_anonymous_is_sent_to_login(client, tenant_a):
    response = client.get("/settings/ladders/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
def test_viewer_and_agent_cannot_change_anything(login, tenant_a, role):
    client = login(MembershipFactory(tenant=tenant_a, role=role).user)
    ladder = default_ladder(tenant_a)
    d0 = step_at(tenant_a, 0)
    with scopes_disabled():
        segment = Segment.objects.create(
            tenant=tenant_a, name="VIP", rule={"kind": "tag", "value": "vip"}, ladder=ladder
        )
    before = steps_of(ladder)
    writes = [
        ("/settings/ladders/new/", {"name": "Nova"}),
        (f"/settings/ladders/{ladder.pk}/", {"name": "Renomeada"}),
        (f"/settings/ladders/{ladder.pk}/steps/new/", {"offset_days": "20", "kind": "task"}),
        (f"/settings/ladders/{ladder.pk}/steps/{d0.pk}/", step_form(d0, offset_days="1")),
        (f"/settings/ladders/{ladder.pk}/steps/{d0.pk}/", {"action": "delete"}),
        ("/settings/segments/new/", {"name": "X", "rule_kind": "manual", "ladder": ladder.pk}),
        (f"/settings/segments/{segment.pk}/", {"name": "Y", "rule_kind": "manual"}),
    ]
    for url, data in writes:
        assert client.post(url, data, **HTMX).status_code == 403, url
    edit = client.get(f"/settings/ladders/{ladder.pk}/steps/{d0.pk}/edit/", **HTMX)
    assert edit.status_code == 403
    assert steps_of(ladder) == before
    with scopes_disabled():
        assert list(Ladder.objects.filter(tenant=tenant_a).values_list("name", flat=True)) == [
            ladder.name
        ]
        assert list(Segment.objects.filter(tenant=tenant_a).values_list("name", flat=True)) == [
            "VIP"
        ]


# Editing steps inline ----------------------------------------------------------------------


def test_admin_edits_a_step_inline(login, admin, tenant_a):
    client = login(admin)
    ladder = default_ladder(tenant_a)
    d3 = step_at(tenant_a, 3)
    url = f"/settings/ladders/{ladder.pk}/steps/{d3.pk}/"

    form = client.get(url + "edit/", **HTMX)
    assert form.status_code == 200 and is_partial(form)
    html = form.content.decode()
    assert html.lstrip().startswith(f'<tr id="step-{d3.pk}"') and 'data-editing="true"' in html
    assert 'name="offset_days"' in html and f'hx-post="{url}"' in html

    response = client.post(
        url, step_form(d3, offset_days="4", channel_1="whatsapp", channel_2=None), **HTMX
    )
    assert response.status_code == 200 and is_partial(response)
    html = response.content.decode()
    assert f'<tr id="step-{d3.pk}" data-step-id="{d3.pk}" data-label="D+4"' in html
    assert 'hx-swap-oob="true"' in html  # the timeline, redrawn out of band
    assert timeline_offsets(html) == [-5, -1, 0, 4, 7, 15]
    assert "ladder-changed" in json.loads(response["HX-Trigger"])  # the forecast reloads
    with scopes_disabled():
        d3.refresh_from_db()
    assert (d3.offset_days, d3.channels, d3.active) == (4, ["whatsapp"], True)


def test_cancel_swaps_the_row_back(login, admin, tenant_a):
    ladder = default_ladder(tenant_a)
    d0 = step_at(tenant_a, 0)
    response = login(admin).get(f"/settings/ladders/{ladder.pk}/steps/{d0.pk}/", **HTMX)
    assert response.status_code == 200 and is_partial(response)
    assert f'data-step-id="{d0.pk}" data-label="D0"' in response.content.decode()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"channel_1": None, "channel_2": None, "channel_3": None}, "channels"),  # no channel
        ({"template_key": "no_such_template"}, "template_key"),
        ({"template_key": "pre_due_5"}, "template_key"),  # no SMS / WhatsApp text for it
        ({"channel_2": "whatsapp"}, "channels"),  # listed twice
        ({"offset_days": "7"}, "offset_days"),  # the day of another step
        ({"offset_days": "999"}, "offset_days"),  # out of the API's range
        ({"kind": "task", "task_title": ""}, "task_title"),
    ],
)
def test_an_invalid_step_is_refused_in_its_row(login, admin, tenant_a, changes, field):
    ladder = default_ladder(tenant_a)
    d0 = step_at(tenant_a, 0)  # WhatsApp → SMS → e-mail, template due_today
    before = steps_of(ladder)
    response = login(admin).post(
        f"/settings/ladders/{ladder.pk}/steps/{d0.pk}/", step_form(d0, **changes), **HTMX
    )
    assert response.status_code == 200 and is_partial(response)
    html = response.content.decode()
    assert 'data-editing="true"' in html  # the row stays a form
    assert f'class="errorlist" id="step-{d0.pk}-' in html
    assert f'data-error-field="{field}"' in html
    assert "hx-swap-oob" not in html
    assert steps_of(ladder) == before


def test_admin_adds_a_step_and_the_editor_section_is_redrawn(login, admin, tenant_a):
    ladder = default_ladder(tenant_a)
    data = {
        "offset_days": "-10",
        "day_kind": "calendar",
        "kind": "message",
        "channel_1": "email",
        "channel_mode": "fallback",
        "template_key": "pre_due_5",
        "skip_while_promise": "on",
        "active": "on",
    }
    response = login(admin).post(f"/settings/ladders/{ladder.pk}/steps/new/", data, **HTMX)
    assert response.status_code == 200 and is_partial(response)
    html = response.content.decode()
    assert html.startswith('<section id="ladder-editor"')
    assert timeline_offsets(html) == [-10, *DEFAULT_OFFSETS]
    assert 'data-label="D-10"' in html
    assert "ladder-changed" in json.loads(response["HX-Trigger"])
    assert (-10, "message", ["email"], "pre_due_5", True) in steps_of(ladder)


def test_adding_an_invalid_step_shows_the_errors_in_the_add_form(login, admin, tenant_a):
    ladder = default_ladder(tenant_a)
    before = steps_of(ladder)
    response = login(admin).post(
        f"/settings/ladders/{ladder.pk}/steps/new/",
        {"offset_days": "2", "kind": "message", "template_key": "due_today", "active": "on"},
        **HTMX,
    )
    assert response.status_code == 200
    assert 'id="new-step-channels-errors" data-error-field="channels"' in response.content.decode()
    assert steps_of(ladder) == before


def test_without_htmx_a_save_redirects_to_the_editor(login, admin, tenant_a):
    ladder = default_ladder(tenant_a)
    d7 = step_at(tenant_a, 7)
    url = f"/settings/ladders/{ladder.pk}/steps/{d7.pk}/"
    page = login(admin).get(url + "edit/")
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert f'<tr id="step-{d7.pk}" class="editing"' in page.content.decode()
    response = login(admin).post(url, step_form(d7, min_amount="500.00"))
    assert response.status_code == 302
    assert response.url == f"/settings/ladders/{ladder.pk}/#steps"
    with scopes_disabled():
        d7.refresh_from_db()
    assert str(d7.min_amount) == "500.00"


def test_deactivated_step_leaves_the_timeline_and_can_come_back(login, admin, tenant_a):
    client = login(admin)
    ladder = default_ladder(tenant_a)
    d_1 = step_at(tenant_a, -1)
    url = f"/settings/ladders/{ladder.pk}/steps/{d_1.pk}/"
    response = client.post(url, {"action": "deactivate"}, **HTMX)
    html = response.content.decode()
    assert 'data-label="D-1" data-active="false"' in html
    assert timeline_offsets(html) == [-5, 0, 3, 7, 15]
    response = client.post(url, {"action": "activate"}, **HTMX)
    assert timeline_offsets(response.content.decode()) == DEFAULT_OFFSETS
    with scopes_disabled():
        d_1.refresh_from_db()
    assert d_1.active is True


@on_the_suite_day  # an invoice due today gets its D0 today: a business day
def test_removing_a_step_deletes_it_unless_it_already_ran(login, admin, tenant_a):
    client = login(admin)
    ladder = default_ladder(tenant_a)
    today = tenant_today(tenant=tenant_a)
    InvoiceFactory(tenant=tenant_a, due_date=today)
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=today)
    d0, d7 = step_at(tenant_a, 0), step_at(tenant_a, 7)
    with scopes_disabled():
        assert Dispatch.objects.filter(step=d0).exists()

    never_ran = client.post(
        f"/settings/ladders/{ladder.pk}/steps/{d7.pk}/", {"action": "delete"}, **HTMX
    )
    assert never_ran.status_code == 200
    assert f'id="step-{d7.pk}"' not in never_ran.content.decode()  # the row goes away
    assert timeline_offsets(never_ran.content.decode()) == [-5, -1, 0, 3, 15]

    ran = client.post(f"/settings/ladders/{ladder.pk}/steps/{d0.pk}/", {"action": "delete"}, **HTMX)
    assert 'data-label="D0" data-active="false"' in ran.content.decode()
    with scopes_disabled():
        assert not LadderStep.objects.filter(pk=d7.pk).exists()
        d0.refresh_from_db()
    assert d0.active is False  # kept for its history


# Timeline and forecast ---------------------------------------------------------------------


def test_timeline_positions_steps_by_offset(login, viewer, tenant_a):
    ladder = default_ladder(tenant_a)
    html = login(viewer).get(f"/settings/ladders/{ladder.pk}/").content.decode()
    assert timeline_offsets(html) == DEFAULT_OFFSETS
    timeline = re.search(r'<figure id="ladder-timeline".*?</figure>', html, re.S).group(0)
    positions = [float(p) for p in re.findall(r'data-position="([\d.]+)"', timeline)]
    assert positions == sorted(positions) and positions[0] < positions[-1]
    # D0 sits where the due date is drawn: a quarter of the way along -5 … +15.
    due = float(re.search(r'data-due-date style="left: ([\d.]+)%"', timeline).group(1))
    assert positions[2] == due == pytest.approx(4 + 92 * 5 / 20)


def test_preview_counts_the_next_sends_per_day_step_and_channel(login, viewer, tenant_a):
    ladder = default_ladder(tenant_a)
    today = tenant_today(tenant=tenant_a)
    InvoiceFactory(
        tenant=tenant_a, due_date=today + timedelta(days=6)
    )  # e-mail and phone, no WhatsApp
    with scope(tenant=tenant_a):
        expected = tenant_forecast(tenant=tenant_a, start=today, days=14)["totals"]
    response = login(viewer).get(f"/settings/ladders/{ladder.pk}/preview/", **HTMX)
    assert response.status_code == 200 and is_partial(response)
    html = response.content.decode()
    assert expected["messages"] > 0
    assert f'data-total-messages="{expected["messages"]}"' in html
    # D0 goes by WhatsApp (to the phone number) first: one message, on the effective due date.
    d0_rows = re.findall(r'data-step="D0" data-channel="(\w+)" data-messages="(\d+)"', html)
    assert d0_rows == [("whatsapp", "1")]
    assert 'data-step="D-1" data-channel="email" data-messages="1"' in html
    full_page = login(viewer).get(f"/settings/ladders/{ladder.pk}/preview/")
    assert "<html" in full_page.content.decode()


# Ladders -----------------------------------------------------------------------------------


def test_admin_creates_a_ladder_copying_the_default_steps(login, admin, tenant_a):
    client = login(admin)
    default = default_ladder(tenant_a)
    response = client.post(
        "/settings/ladders/new/", {"name": "Grandes contas", "copy_from": default.pk}
    )
    with scopes_disabled():
        created = Ladder.objects.get(tenant=tenant_a, name="Grandes contas")
    assert response.status_code == 302 and response.url == f"/settings/ladders/{created.pk}/"
    assert [s[0] for s in steps_of(created)] == DEFAULT_OFFSETS
    assert created.is_default is False

    again = client.post("/settings/ladders/new/", {"name": "Grandes contas"})
    assert again.status_code == 200
    assert 'data-error-field="name"' in again.content.decode()
    blank = client.post("/settings/ladders/new/", {"name": ""})
    assert 'data-error-field="name"' in blank.content.decode()
    with scopes_disabled():
        assert Ladder.objects.filter(tenant=tenant_a).count() == 2


def test_admin_renames_a_ladder(login, admin, tenant_a):
    ladder = default_ladder(tenant_a)
    response = login(admin).post(
        f"/settings/ladders/{ladder.pk}/", {"name": "Régua geral", "thank_you_template_key": ""}
    )
    assert response.status_code == 302
    with scopes_disabled():
        ladder.refresh_from_db()
    assert (ladder.name, ladder.thank_you_template_key) == ("Régua geral", "")


# Segments ----------------------------------------------------------------------------------


def segment_row(html: str, segment: Segment) -> dict:
    match = re.search(
        rf'data-segment-id="{segment.pk}" data-matching="(\d+)" data-landing="(\d+)"', html
    )
    return {"matching": int(match.group(1)), "landing": int(match.group(2))}


def test_segment_list_counts_the_customers_each_rule_matches(login, admin, tenant_a):
    client = login(admin)
    ladder = default_ladder(tenant_a)
    today = tenant_today(tenant=tenant_a)
    for name, priority, kind, value in [
        ("Grandes", 10, "amount_at_least", "10000.00"),
        ("VIP", 20, "tag", "vip"),
    ]:
        response = client.post(
            "/settings/segments/new/",
            {
                "name": name,
                "priority": priority,
                "ladder": ladder.pk,
                "rule_kind": kind,
                "rule_amount" if kind == "amount_at_least" else "rule_tag": value,
            },
        )
        assert response.status_code == 302 and response.url == "/settings/segments/"
    with scopes_disabled():
        big, vip = Segment.objects.filter(tenant=tenant_a).order_by("priority")
    assert big.rule == {"kind": "amount_at_least", "value": "10000.00"}
    assert vip.rule == {"kind": "tag", "value": "vip"}

    html = client.get("/settings/segments/").content.decode()
    assert segment_row(html, big) == {"matching": 0, "landing": 0}
    assert segment_row(html, vip) == {"matching": 0, "landing": 0}

    tagged = {"external_id": "C-VIP", "name": "Cliente VIP", "tags": ["vip"]}
    InvoiceFactory(tenant=tenant_a, due_date=today, amount="12000.00", customer=tagged)
    InvoiceFactory(tenant=tenant_a, due_date=today, amount="100.00")
    html = client.get("/settings/segments/").content.decode()
    assert 'data-customers="2"' in html
    assert segment_row(html, big) == {"matching": 1, "landing": 1}
    # Matches the tag too, but the higher-priority segment takes the customer.
    assert segment_row(html, vip) == {"matching": 1, "landing": 0}
    # In list order: priority first.
    assert html.index(f'data-segment-id="{big.pk}"') < html.index(f'data-segment-id="{vip.pk}"')


def test_live_count_while_editing_a_rule(login, admin, tenant_a):
    client = login(admin)
    today = tenant_today(tenant=tenant_a)
    InvoiceFactory(
        tenant=tenant_a, due_date=today, customer={"external_id": "V", "name": "V", "tags": ["vip"]}
    )
    url = "/settings/segments/count/"
    response = client.get(url, {"rule_kind": "tag", "rule_tag": "vip"}, **HTMX)
    assert response.status_code == 200 and is_partial(response)
    assert 'data-count="1"' in response.content.decode()
    none = client.get(url, {"rule_kind": "amount_at_least", "rule_amount": "5000"}, **HTMX)
    assert 'data-count="0"' in none.content.decode()
    bad = client.get(url, {"rule_kind": "amount_at_least", "rule_amount": "muito"}, **HTMX)
    assert 'data-error-field="rule"' in bad.content.decode()
    assert "data-count" not in bad.content.decode()


@pytest.mark.parametrize(
    "rule",
    [
        {"rule_kind": "amount_at_least", "rule_amount": "abc"},
        {"rule_kind": "amount_at_least", "rule_amount": "-1"},
        {"rule_kind": "tag", "rule_tag": ""},
        {"rule_kind": "behaviour", "rule_behaviour": "generous"},
        {"rule_kind": "astrology"},
    ],
)
def test_a_bad_rule_is_refused(login, admin, tenant_a, rule):
    ladder = default_ladder(tenant_a)
    response = login(admin).post(
        "/settings/segments/new/", {"name": "X", "priority": "5", "ladder": ladder.pk, **rule}
    )
    assert response.status_code == 200
    assert 'data-error-field="rule"' in response.content.decode()
    with scopes_disabled():
        assert not Segment.objects.filter(tenant=tenant_a).exists()


def test_segment_fields_are_validated_one_by_one(login, admin, tenant_a, tenant_b):
    other_tenants_ladder = default_ladder(tenant_b)
    response = login(admin).post(
        "/settings/segments/new/",
        {
            "name": "",
            "priority": "-3",
            "ladder": other_tenants_ladder.pk,
            "rule_kind": "tag",
            "rule_tag": "vip",
        },
    )
    html = response.content.decode()
    for field in ("name", "priority", "ladder"):
        assert f'data-error-field="{field}"' in html
    assert 'data-error-field="rule"' not in html
    with scopes_disabled():
        assert not Segment.objects.exists()


def test_admin_edits_a_segment(login, admin, tenant_a):
    ladder = default_ladder(tenant_a)
    with scopes_disabled():
        segment = Segment.objects.create(
            tenant=tenant_a, name="VIP", rule={"kind": "tag", "value": "vip"}, ladder=ladder
        )
    client = login(admin)
    page = client.get(f"/settings/segments/{segment.pk}/").content.decode()
    assert 'value="vip"' in page and 'data-count="0"' in page
    response = client.post(
        f"/settings/segments/{segment.pk}/",
        {
            "name": "Comportados",
            "priority": "7",
            "ladder": ladder.pk,
            "rule_kind": "behaviour",
            "rule_behaviour": "on_time",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        segment.refresh_from_db()
    assert (segment.name, segment.priority, segment.rule) == (
        "Comportados",
        7,
        {"kind": "behaviour", "value": "on_time"},
    )


# Tenant isolation --------------------------------------------------------------------------


def test_another_tenants_ladder_step_and_segment_are_404(login, outsider, tenant_a):
    client = login(outsider)  # an owner, of tenant B only
    ladder = default_ladder(tenant_a)
    d0 = step_at(tenant_a, 0)
    with scopes_disabled():
        segment = Segment.objects.create(
            tenant=tenant_a, name="VIP", rule={"kind": "tag", "value": "vip"}, ladder=ladder
        )
    before = steps_of(ladder)
    base = f"/settings/ladders/{ladder.pk}/"
    for url in (
        base,
        base + "preview/",
        base + f"steps/{d0.pk}/",
        base + f"steps/{d0.pk}/edit/",
        f"/settings/segments/{segment.pk}/",
        f"/settings/segments/count/?rule_kind=manual&segment={segment.pk}",
    ):
        assert client.get(url, **HTMX).status_code == 404, url
    for url, data in (
        (base, {"name": "Roubada"}),
        (base + "steps/new/", {"offset_days": "1", "kind": "task", "task_title": "x"}),
        (base + f"steps/{d0.pk}/", {"action": "delete"}),
        (f"/settings/segments/{segment.pk}/", {"name": "Y", "rule_kind": "manual"}),
    ):
        assert client.post(url, data, **HTMX).status_code == 404, url
    assert steps_of(ladder) == before
    with scopes_disabled():
        segment.refresh_from_db()
    assert segment.name == "VIP"


def test_a_step_of_another_ladder_is_404(login, admin, tenant_a):
    client = login(admin)
    client.post("/settings/ladders/new/", {"name": "Outra"})
    with scopes_disabled():
        other = Ladder.objects.get(tenant=tenant_a, name="Outra")
    d0 = step_at(tenant_a, 0)
    assert client.get(f"/settings/ladders/{other.pk}/steps/{d0.pk}/edit/").status_code == 404
    response = client.post(f"/settings/ladders/{other.pk}/steps/{d0.pk}/", {"action": "delete"})
    assert response.status_code == 404
