"""Tests of "Mes dernières factures", with the fixtures Guichet ships: the invoices
come in as the provider sends them (``guichet invoices import``)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from core.plugin_api import app_settings
from core.testing import make_org, run_cli

WIDGET = "/widgets/latest_invoices.widget"


def invoice(number: str, days_ago: int, client_code="00002501", **values) -> dict:
    issued = date.today() - timedelta(days=days_ago)
    return {
        "number": number,
        "type": "invoice",
        "date": issued.isoformat(),
        "due_date": (issued + timedelta(days=30)).isoformat(),
        "total_ht": "100.00",
        "total_ttc": "120.00",
        "client_code": client_code,
        **values,
    }


@pytest.fixture
def invoices(app, tmp_path, organisation, enable_app):
    """Seven invoices of the organisation (the newest first: F7 … F1), F1 to F3 paid,
    and one of another organisation, imported as the provider does."""
    make_org("Client 2", codes=("00009999",))
    batch = [invoice(f"F{n}", 10 - n, status="paid" if n <= 3 else "to_pay") for n in range(1, 8)]
    batch.append(invoice("THEIRS", 0, client_code="00009999"))
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps({"invoices": batch}))
    result = run_cli(app, "invoices", "import", str(path))
    assert result.exit_code == 0, result.output
    enable_app("latest_invoices")


def numbers(html: str) -> list[str]:
    return [n for n in ("F7", "F6", "F5", "F4", "F3", "F2", "F1", "THEIRS") if f">{n}<" in html]


def test_the_widget_shows_the_organisations_latest_invoices(logged_in, invoices, count_queries):
    with count_queries() as queries:
        html = logged_in.get(WIDGET).get_data(as_text=True)
    assert numbers(html) == ["F7", "F6", "F5", "F4", "F3"]  # five by default, never theirs
    assert len(queries) <= 8  # the session, the gate, the settings, the invoices
    page = logged_in.get("/dernieres-factures/").get_data(as_text=True)
    assert "Mes dernières factures" in page and numbers(page) == ["F7", "F6", "F5", "F4", "F3"]


def test_the_organisations_admins_choose_how_many_and_which(logged_in, invoices, organisation):
    answer = logged_in.post(
        "/applications/latest_invoices/reglages", data={"count": "2", "only_to_pay": "y"}
    )
    assert answer.status_code == 303
    assert app_settings(organisation.id, "latest_invoices") == {"count": 2, "only_to_pay": True}
    assert numbers(logged_in.get(WIDGET).get_data(as_text=True)) == ["F7", "F6"]
    refused = logged_in.post("/applications/latest_invoices/reglages", data={"count": "500"})
    assert refused.status_code == 422 and "20" in refused.get_data(as_text=True)
    assert app_settings(organisation.id, "latest_invoices")["count"] == 2


def test_a_member_sees_them_but_may_not_change_them(app, invoices, member):
    client = app.test_client()
    client.login(member.email)
    assert numbers(client.get(WIDGET).get_data(as_text=True)) == ["F7", "F6", "F5", "F4", "F3"]
    assert client.get("/applications/latest_invoices/reglages").status_code == 404


def test_it_goes_with_the_invoices_app_and_comes_back_with_it(logged_in, invoices, enable_app):
    enable_app("invoices", False)
    assert logged_in.get("/dernieres-factures/").status_code == 404
    assert logged_in.get(WIDGET).status_code == 404
    home = logged_in.get("/").get_data(as_text=True)
    assert "Mes dernières factures" not in home
    enable_app("invoices", True)
    assert logged_in.get("/dernieres-factures/").status_code == 200
    assert "Mes dernières factures" in logged_in.get("/").get_data(as_text=True)
