"""Consumption: import with monthly totals, the views (period, grouping, filters,
comparison), drill down, CSV export, widget, and apps per product family."""

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.activation import set_app_enabled
from core.extensions import db
from core.importing import ImportRejected
from plugins.consumption.importing import import_consumption
from plugins.consumption.models import ConsumptionRecord, MonthlyTotal
from plugins.consumption.queries import add_months
from tests.conftest import make_app, run_cli

THIS_MONTH = date.today().replace(day=1)


def month(offset: int) -> str:
    return add_months(THIS_MONTH, offset).strftime("%Y-%m")


def record(record_id: str, offset: int = 0, **values) -> dict:
    data = {
        "id": record_id,
        "client_code": "00002501",
        "family": "Affranchissement",
        "product": "Lettre verte 20 g",
        "period": month(offset),
        "quantity": "100",
        "unit": "plis",
        "amount_ht": "116.00",
    }
    data.update(values)
    return data


@pytest.fixture
def records(org):
    """A year ago and now: postage on two accounts, a franking machine on one."""
    import_consumption(
        [
            record("r1", 0),
            record("r2", -1, amount_ht="58.00", quantity="50"),
            record(
                "r3",
                0,
                client_code="04008041",
                product="Lettre prioritaire 20 g",
                amount_ht="139.00",
                contract="C-1",
            ),
            record("r4", -12, amount_ht="100.00"),
            record(
                "r5",
                0,
                family="Machines à affranchir",
                product="Location machine",
                unit="mois",
                quantity="1",
                amount_ht="49.00",
            ),
        ]
    )


def totals() -> dict:
    rows = db.session.execute(
        select(
            MonthlyTotal.month,
            MonthlyTotal.product,
            MonthlyTotal.amount_ht,
            MonthlyTotal.quantity,
            MonthlyTotal.records,
        )
    ).all()
    return {
        (r.month.strftime("%Y-%m"), r.product): (r.amount_ht, r.quantity, r.records) for r in rows
    }


# -- import --------------------------------------------------------------------------


def test_import_keeps_monthly_totals_and_is_idempotent(org):
    batch = [record("a", 0), record("b", 0, period=f"{month(0)}-02"), record("c", -1)]
    assert import_consumption(batch).created == ["a", "b", "c"]
    assert totals()[(month(0), "Lettre verte 20 g")] == (23200, Decimal("200.000"), 2)
    assert import_consumption(batch).unchanged == ["a", "b", "c"]
    moved = [record("a", -1, amount_ht="10.00")]  # to last month, with a new amount
    assert import_consumption(moved).updated == ["a"]
    assert totals()[(month(0), "Lettre verte 20 g")] == (11600, Decimal("100.000"), 1)
    assert totals()[(month(-1), "Lettre verte 20 g")] == (12600, Decimal("200.000"), 2)
    assert db.session.scalar(select(func.count()).select_from(ConsumptionRecord)) == 3


def test_a_bad_batch_is_rejected_whole_with_every_fault_named(org):
    batch = [
        record("ok"),
        record("bad-month", period="2026-13"),
        record("bad-day", period="31/02/2026"),
        record("no-product", product=""),
        record("who", client_code="99999999"),
        record("ok"),
        record("money", amount_ht="12.345"),
        record("huge", amount_ht="1" + "0" * 30),
        record("exponent", amount_ht="1e3"),  # digits only: 1e3 is no amount
    ]
    with pytest.raises(ImportRejected) as rejected:
        import_consumption(batch)
    faults = {(f.row, f.field) for f in rejected.value.faults}
    assert faults == {
        (2, "period"),
        (3, "period"),
        (4, "product"),
        (5, "client_code"),
        (6, "id"),
        (7, "amount_ht"),
        (8, "amount_ht"),
        (9, "amount_ht"),
    }
    messages = " ".join(f.message for f in rejected.value.faults)
    assert "is not a month" in messages and "is not a period" in messages
    assert f"'1{'0' * 30}' is too large" in messages and "'1e3' is not an amount" in messages
    assert db.session.scalar(select(func.count()).select_from(ConsumptionRecord)) == 0
    assert db.session.scalar(select(func.count()).select_from(MonthlyTotal)) == 0


def test_csv_import_through_the_cli_names_the_faulty_line(app, org, tmp_path):
    header = "id;client_code;family;product;period;quantity;unit;amount_ht\n"
    good = tmp_path / "good.csv"
    good.write_text(
        header + f"x1;00002501;Affranchissement;Lettre verte;{month(0)};10;plis;11,60\n"
    )
    result = run_cli(app, "consumption", "import", str(good))
    assert result.exit_code == 0 and "1 created" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(header + f"x2;00002501;Affranchissement;Lettre verte;{month(0)};dix;plis;1\n")
    result = run_cli(app, "consumption", "import", str(bad))
    assert result.exit_code == 1
    assert "line 2, quantity: 'dix' is not a number" in result.output


def test_the_api_imports_records(app, org, client):
    from core import api

    with app.app_context():
        _token, clear = api.issue_token("billing")
        db.session.commit()
    response = client.post(
        "/api/v1/consumption",
        data=json.dumps({"consumption": [record("api-1")]}),
        headers={"Authorization": f"Bearer {clear}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["created"] == ["api-1"]
    schema = client.get("/api/v1/openapi.json").get_json()
    assert "/consumption" in schema["paths"]


# -- views ---------------------------------------------------------------------------


def table(response) -> list[list[str]]:
    """The rows of the figures table, cell texts without no-break spaces."""
    import re

    html = response.get_data(as_text=True)
    body = html.split('<table class="consumption-table">')[1].split("</tbody>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in rows]
    clean = [
        [re.sub(r"<[^>]+>", "", c).replace("\u202f", " ").replace("\xa0", " ").strip() for c in row]
        for row in cells
    ]
    return clean


def test_the_last_twelve_months_by_month(logged_in, records):
    response = logged_in.get("/consommations/")
    assert response.status_code == 200
    rows = table(response)
    assert len(rows) == 12
    assert rows[-1] == [add_months(THIS_MONTH, 0).strftime("%m/%Y"), "304,00 €"]
    assert rows[-2][1] == "58,00 €"
    page = response.get_data(as_text=True)
    assert '<svg viewBox="0 0 720 260" role="img"' in page
    assert page.count('class="bar"') == 12


def test_grouped_by_product_with_quantities_and_compared_with_last_year(logged_in, records):
    rows = table(logged_in.get("/consommations/?group=product&compare=1"))
    assert rows[0] == ["Lettre verte 20 g", "150 plis", "174,00 €", "100,00 €", "+74,0 %"]
    assert ["Lettre prioritaire 20 g", "100 plis", "139,00 €", "0,00 €", "—"] in rows
    page = logged_in.get("/consommations/?compare=1").get_data(as_text=True)
    assert page.count('class="bar-previous"') == 12


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("group=account&period=this_month", [["00002501", "165,00 €"], ["04008041", "139,00 €"]]),
        ("group=contract&period=this_month", [["—", "165,00 €"], ["C-1", "139,00 €"]]),
        ("group=product&period=last_month", [["Lettre verte 20 g", "50 plis", "58,00 €"]]),
        ("group=account&period=this_month&account=04008041", [["04008041", "139,00 €"]]),
        (
            "group=account&period=this_month&product=Location machine",
            [["00002501", "49,00 €"]],
        ),
    ],
)
def test_groupings_periods_and_filters(logged_in, records, query, expected):
    assert table(logged_in.get(f"/consommations/?{query}")) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=custom&from=2026-13&to=2026-01", "n’est pas un mois valide"),
        ("period=custom&from=31/02/2026&to=2026-01", "n’est pas un mois valide"),
        (f"period=custom&from={month(0)}&to={month(-2)}", "ont été inversés"),
        ("period=custom&from=2000-01&to=2000-06", "conservée 36 mois"),
        ("product=Timbre imaginaire", "Produit inconnu"),
        ("account=12345678", "Compte inconnu"),
        ("group=colour", "Regroupement inconnu"),
        ("period=decade", "Période inconnue"),
    ],
)
def test_bad_view_input_gets_a_message_never_an_error(logged_in, records, query, message):
    response = logged_in.get(f"/consommations/?{query}")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_a_custom_range_is_kept_in_the_url_and_swapped_when_reversed(logged_in, records):
    rows = table(logged_in.get(f"/consommations/?period=custom&from={month(0)}&to={month(-2)}"))
    assert [r[0] for r in rows] == [
        add_months(THIS_MONTH, n).strftime("%m/%Y") for n in (-2, -1, 0)
    ]


def test_drill_down_to_the_records(logged_in, records):
    page = logged_in.get("/consommations/?group=product").get_data(as_text=True)
    assert f"/consommations/releves?product=Lettre+verte+20+g&amp;from={month(-11)}" in page
    response = logged_in.get(
        f"/consommations/releves?from={month(0)}&to={month(0)}&sort=amount&dir=asc"
    )
    text = response.get_data(as_text=True)
    assert ">3 résultats<" in text
    assert text.index("49,00") < text.index("116,00") < text.index("139,00")  # ascending
    contract = logged_in.get("/consommations/releves?contract=C-1").get_data(as_text=True)
    assert "Lettre prioritaire 20 g" in contract and "Lettre verte" not in contract
    bad = logged_in.get("/consommations/releves?from=2026-13")
    assert bad.status_code == 200 and "n’est pas un mois valide" in bad.get_data(as_text=True)


def test_csv_export_of_the_view_in_both_dialects(logged_in, records):
    french = logged_in.get("/consommations/export.csv?group=product&compare=1")
    assert french.headers["Content-Type"].startswith("text/csv")
    assert (
        f'filename="consommations-{date.today().isoformat()}.csv"'
        in french.headers["Content-Disposition"]
    )
    lines = french.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "Produit;Quantité;Unité;Montant HT;L’an dernier;Évolution sur un an (%)"
    assert lines[1] == "Lettre verte 20 g;150;plis;174,00;100,00;74,0"
    standard = logged_in.get("/consommations/export.csv?dialect=std&period=last_month")
    assert standard.get_data(as_text=True).splitlines()[0] == "month,quantity,unit,amount_ht"
    assert standard.get_data(as_text=True).splitlines()[1] == f"{month(-1)}-01,,,58.00"
    assert logged_in.get("/consommations/export.csv?dialect=xls").status_code == 400


def test_widget_compares_this_month_with_last_month(logged_in, records):
    text = logged_in.get("/consommations/widget").get_data(as_text=True).replace("\xa0", " ")
    assert "<strong>304,00 €</strong> ce mois-ci" in text and "58,00 € le mois dernier" in text
    assert text.count("<polyline") == 1


def test_contract_page_links_to_its_consumption(logged_in, org, records):
    from plugins.contracts.importing import import_contracts
    from plugins.contracts.models import Contract

    import_contracts(
        [
            {
                "number": "C-1",
                "product": "Compte Clients",
                "client_code": "04008041",
                "start_date": "2020-01-01",
            }
        ]
    )
    contract_id = db.session.scalar(select(Contract.id))
    page = logged_in.get(f"/contrats/{contract_id}").get_data(as_text=True)
    assert "/consommations/releves?contract=C-1" in page and "Voir sa consommation" in page


def test_apps_per_product_family_are_separate_apps(tmp_path, org, user, records):
    family_app = make_app(
        tmp_path,
        CONSUMPTION_APPS=[
            {
                "key": "conso_ma",
                "name": "Vos consommations MA",
                "families": ["Machines à affranchir"],
            }
        ],
    )
    client = family_app.test_client()
    client.login(user.email)
    rows = table(client.get("/consommations/conso_ma/?group=product"))
    assert rows == [["Location machine", "1 mois", "49,00 €"]]
    assert "Vos consommations MA" in client.get("/").get_data(as_text=True)
    with family_app.app_context():
        set_app_enabled(org, "conso_ma", False)
        db.session.commit()
    assert client.get("/consommations/conso_ma/").status_code == 404
    assert client.get("/consommations/").status_code == 200  # the main app is apart


def test_view_query_count_does_not_grow_with_data(logged_in, org, count_queries):
    def queries():
        with count_queries() as counter:
            assert logged_in.get("/consommations/?compare=1").status_code == 200
        return len(counter)

    import_consumption([record("q1")])
    queries()  # the process reads the enabled apps and favourites once (core.stamps)
    few = queries()
    import_consumption(
        [record(f"q{n}", -(n % 12), product=f"Produit {n % 7}") for n in range(2, 300)]
    )
    assert queries() == few <= 10


def chart_of(client, query: str):
    """The chart's series (their legend labels) and whether they are drawn over the bars."""
    import re

    page = client.get(f"/consommations/?{query}").get_data(as_text=True)
    svg = page[page.index("<svg") : page.index("</svg>")]
    labels = re.findall(r'<polyline class="product-line"[^>]*><title>([^<]*)</title>', svg)
    over_bars = not labels or svg.rindex('class="bar"') < svg.index('class="series"')
    return page, labels, over_bars


def test_the_chart_follows_the_grouping_and_its_legend_names_every_group(logged_in, org):
    products = [f"Produit {n}" for n in range(7)]
    import_consumption(
        [record(f"p{n}", 0, product=p, amount_ht=f"{100 - n}.00") for n, p in enumerate(products)]
        + [record("b1", 0, client_code="04008041", amount_ht="10.00")]
    )
    _page, labels, _over = chart_of(logged_in, "group=month")
    assert labels == []  # the bars are the months' totals
    _page, labels, over_bars = chart_of(logged_in, "group=product")
    assert labels == [*products[:5], "Autres (3)"] and over_bars  # 5 lines, 3 more summed
    _page, labels, over_bars = chart_of(logged_in, "group=account")
    assert labels == ["00002501", "04008041"] and over_bars


def test_the_month_fields_are_labelled_from_and_to(logged_in, org):
    page = logged_in.get("/consommations/").get_data(as_text=True)
    assert '<label>Du<input type="month"' in page and '<label>Au<input type="month"' in page
