"""Consumption as a customer uses it: open the app, change the period, switch the
grouping, compare with last year, export, pin the widget and see it on the dashboard."""

from pathlib import Path

from playwright.sync_api import expect

from plugins.consumption.importing import import_consumption
from tests.e2e.conftest import log_in
from tests.e2e.test_dashboard_journey import switch
from tests.test_consumption import month, record


def test_period_grouping_comparison_export_and_widget(page, customer, org):
    import_consumption(
        [
            record("j1", 0),
            record("j2", -1, product="Lettre prioritaire 20 g", amount_ht="139.00"),
            record("j3", -12, amount_ht="58.00"),
            record("j4", -30, amount_ht="10.00"),
        ]
    )
    log_in(page, customer.email)
    page.goto("/consommations/")
    rows = page.locator(".consumption-table tbody tr")
    expect(rows).to_have_count(12)
    expect(page.locator("svg[role=img] rect.bar")).to_have_count(12)

    with page.expect_response(lambda r: "/consommations/?" in r.url):
        page.locator("select[name=period]").select_option(
            label="Le mois dernier"
        )  # in place (HTMX)
    expect(rows).to_have_count(1)
    assert "period=last_month" in page.url
    expect(rows.first).to_contain_text("139,00")

    page.locator("select[name=period]").select_option(label="12 derniers mois")
    with page.expect_response(lambda r: "group=product" in r.url):
        page.locator("select[name=group]").select_option(label="Produit")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Lettre prioritaire 20 g")

    with page.expect_response(lambda r: "compare=1" in r.url):
        page.get_by_label("Comparer avec la même période l’an dernier").check()
    expect(page.get_by_role("columnheader", name="Évolution sur un an")).to_be_visible()
    expect(rows.filter(has_text="Lettre verte 20 g")).to_contain_text("+100,0")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV (tableur français)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("product;quantity;unit;amount_ht;amount_ht_last_year")
    assert download.value.suggested_filename.startswith("consommations-consumption-")

    page.get_by_role("link", name="Lettre verte 20 g").click()
    expect(page.get_by_role("heading", name="Relevés")).to_be_visible()
    expect(page.locator("#record-results tbody tr")).to_have_count(1)  # j1 (j3 is older)
    assert f"from={month(-11)}" in page.url

    page.goto("/favourites")
    switch(page, "Épingler Vos consommations")
    page.goto("/")
    widget = page.locator('#dashboard > .widget[data-widget="consumption.glance"]')
    expect(widget).to_contain_text("ce mois-ci à ce jour")
    expect(widget.locator("polyline")).to_have_count(1)
