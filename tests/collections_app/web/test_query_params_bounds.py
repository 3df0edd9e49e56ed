"""Query parameters a prober types: a NUL in the invoice search, a dashboard period of ten
thousand years. Never a 500: no match, or the period bounded with a message."""

from datetime import date

from tests.collections_app.factories import InvoiceFactory


def test_a_nul_in_the_invoice_search_matches_nothing(tenant_a, owner, login):
    InvoiceFactory(tenant=tenant_a, number="NF-1")
    answer = login(owner).get("/invoices/", {"q": "NF\x00", "status": "all"})
    assert answer.status_code == 200
    assert "NF-1" not in answer.content.decode()


def test_a_dashboard_period_of_ten_thousand_years_is_bounded_with_a_message(owner, login):
    answer = login(owner).get("/", {"from": "0001-01-01", "to": "9999-12-31"})
    assert answer.status_code == 200
    assert answer.context["date_to"] <= date(2999, 12, 31)
    assert answer.context["date_from"] >= date(1900, 1, 1)
    assert (answer.context["date_to"] - answer.context["date_from"]).days <= 3660
    messages = [str(m) for m in answer.context["messages"]]
    assert any("período" in m.lower() or "period" in m.lower() for m in messages), messages


def test_an_ordinary_period_gives_no_message(owner, login):
    answer = login(owner).get("/", {"from": "2026-11-01", "to": "2026-11-30"})
    assert answer.status_code == 200
    assert answer.context["date_from"] == date(2026, 11, 1)
    assert not list(answer.context["messages"])


def test_an_outsider_sees_no_dashboard_of_tenant_a(tenant_a, outsider, login):
    answer = login(outsider).get("/", {"from": "0001-01-01", "to": "9999-12-31"})
    assert answer.status_code == 200
    assert answer.context["request"].tenant != tenant_a
