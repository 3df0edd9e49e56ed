"""A tiny smoke run of the evaluation benchmark (the full run is out of CI: see README)."""

import json

import pytest
from django.core.management import call_command
from django_scopes import scopes_disabled

from collections_app.models import Dispatch, Invoice
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def test_bench_builds_the_portfolio_and_matches_the_sql_bound(capsys):
    call_command(
        "bench_ladders", "--tenants", "3", "--invoices", "900", "--date", "2026-12-02", "--json"
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["invoices"] == 900 and result["open"] == 720
    assert result["created"] > 0
    # The engine and the one-statement bound select the same (invoice × step) pairs.
    assert result["created"] == result["sql_bound_rows"]
    assert result["seconds"] > 0 and result["sql_bound_seconds"] > 0
    assert result["ratio"] > 1  # the bound is a bound
    with scopes_disabled():
        tenants = Tenant.objects.filter(slug__startswith=result["tenant_prefix"])
        assert tenants.count() == 3
        assert Invoice.objects.filter(tenant__in=tenants).count() == 900
        assert Dispatch.objects.filter(tenant__in=tenants).count() == result["created"]

    # The next day evaluates on the same data, adding only that day's steps.
    call_command("run_ladders", "--date", "2026-12-03", "--json")
    following = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert following["created"] > 0
    with scopes_disabled():
        assert Dispatch.objects.filter(tenant__in=tenants).count() == (
            result["created"] + following["created"]
        )
