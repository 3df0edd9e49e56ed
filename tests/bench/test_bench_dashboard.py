"""A tiny run of bench_dashboard: it builds a tenant, requests every page and reports."""

import json

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_bench_dashboard_times_every_page(capsys):
    call_command("bench_dashboard", "--invoices", "1500", "--requests", "2", "--json")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["invoices"] == 1500
    assert set(result["pages"]) == {
        "overview",
        "overview_segment",
        "overdue_queue",
        "overdue_search",
        "overdue_page_40",
        "invoice",
        "customer",
        "tasks",
        "replies",
        "settings",
        "ladders",
        "ladder_editor",
        "ladder_forecast",
        "segments",
        "templates",
        "providers",
        "team",
        "api_keys",
    }
    assert all(page["p95_ms"] > 0 for page in result["pages"].values())
    assert result["reference_healthz_p95_ms"] > 0
