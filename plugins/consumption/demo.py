"""Demo consumption for "Client 1": three years of monthly postage, franking machine and
service records over its accounts, with a seasonal shape, so the charts and the
year-over-year comparison have something to show."""

from __future__ import annotations

import random
from datetime import date

from core.plugin_api import (
    Organisation,
)

from .queries import add_months

PRODUCTS = (
    ("Affranchissement", "Lettre verte 20 g", "plis", 116),
    ("Affranchissement", "Lettre prioritaire 20 g", "plis", 139),
    ("Affranchissement", "Lettre recommandée R1", "plis", 505),
    ("Machines à affranchir", "Location machine IJ-25", "mois", 4900),
    ("Machines à affranchir", "Encre IJ-25", "cartouches", 8990),
    ("Services", "Collecte du courrier", "passages", 350),
)


def demo_records(organisation: Organisation, today: date) -> list[dict]:
    rng = random.Random(organisation.id)
    first = add_months(today.replace(day=1), -35)
    records = []
    for account in sorted(organisation.accounts, key=lambda a: a.client_code):
        for n in range(36):
            month = add_months(first, n)
            season = 1.25 if month.month in (9, 10, 11, 12) else 0.85 if month.month == 8 else 1
            for index, (family, product, unit, price) in enumerate(PRODUCTS):
                quantity = (
                    1
                    if unit == "mois"
                    else max(1, int(rng.gauss(400, 80) * season / (1 if unit == "plis" else 40)))
                )
                records.append(
                    {
                        "id": f"D-{account.client_code}-{month:%Y%m}-{index}",
                        "client_code": account.client_code,
                        "contract": "1-10265655331 - 0" if family != "Services" else "",
                        "family": family,
                        "product": product,
                        "period": f"{month:%Y-%m}",
                        "quantity": str(quantity),
                        "unit": unit,
                        "amount_ht": f"{quantity * price / 100:.2f}",
                    }
                )
    return records
