"""Demo invoices in the style of a postal provider: the documented examples, then a
few thousand generated ones so that lists and totals look real. Dates are recent so
that they fall inside the history window."""

from __future__ import annotations

import random
from datetime import date, timedelta

RECIPIENT = {
    "name": "CLIENT 1",
    "siret": "35600000000048",
    "address": "SERVICE COMPTABILITÉ\n9 RUE DU COLONEL PIERRE AVIA\n75015 PARIS",
}
MONTH_OF_MAIL = {
    "order_number": "39624101",
    "label": "Affranchissements du mois",
    "quantity": "1",
    "unit_price_ht": "56267.25",
    "vat_rate": "20",
    "amount_ht": "56267.25",
}


def documented_invoices(today: date) -> list[dict]:
    """The examples of the specification (numbers and amounts as given)."""
    year = today.year if (today.month, today.day) > (5, 27) else today.year - 1
    may_17, may_27 = date(year, 5, 17), date(year, 5, 27)
    return [
        {
            "number": "62274737",
            "type": "invoice",
            "date": may_27.isoformat(),
            "due_date": (may_27 + timedelta(days=30)).isoformat(),
            "status": "to_pay",
            "total_ht": "56267.25",
            "total_ttc": "67520.70",
            "client_code": "00002501",
            "subscriber": "CLIENT 1",
            "recipient": RECIPIENT,
            "lines": [MONTH_OF_MAIL],
        },
        {
            "number": "62274457",
            "type": "credit_note",
            "date": may_27.isoformat(),
            "status": "paid",
            "total_ht": "-56267.25",
            "total_ttc": "-67520.70",
            "client_code": "00002501",
            "subscriber": "CLIENT 1",
            "recipient": RECIPIENT,
            "lines": [{**MONTH_OF_MAIL, "amount_ht": "-56267.25"}],
        },
        {
            "number": "62268557",
            "type": "invoice",
            "date": may_17.isoformat(),
            "due_date": (may_17 + timedelta(days=30)).isoformat(),
            "status": "paid",
            "total_ht": "4278.41",
            "total_ttc": "5130.82",
            "client_code": "04008041",
            "sub_account": "04008041",
            "subscriber": "CLIENT 1 – AGENCE DE LYON",
            "references": {
                "purchase_order": "AA01046121",
                "framework_contract": "50036316",
                "local_contract": "1-10265655331 - 0",
            },
            "recipient": RECIPIENT,
            "ranges": [
                {"label": "BU NOUVEAUX SERVICES", "total_ht": "4262.06", "total_ttc": "5114.47"},
                {
                    "label": "COURRIER-FRAIS DIVERS NON CAP",
                    "total_ht": "16.35",
                    "total_ttc": "16.35",
                },
            ],
            # The specification's one line (40,722 at 0.105065 = 4,278.41 at 20 %)
            # would make 855.68 of VAT; the invoice charges 852.41, which its ranges
            # explain: 16.35 of it is not taxed. Its lines say so, so that its totals
            # and its structured data (Factur-X, UBL) add up.
            "lines": [
                {
                    "order_number": "39624522",
                    "label": "Affranchissement Lettre Verte",
                    "quantity": "40722",
                    "unit_price_ht": "0.104663",
                    "vat_rate": "20",
                    "amount_ht": "4262.06",
                },
                {
                    "order_number": "39624523",
                    "label": "Courrier - frais divers non capitalisés",
                    "quantity": "1",
                    "unit_price_ht": "16.35",
                    "vat_rate": "0",
                    "amount_ht": "16.35",
                },
            ],
        },
    ]


def generated_invoices(today: date, count: int, seed: int = 2501) -> list[dict]:
    """``count`` plausible invoices over the last 23 months, reproducible."""
    rng = random.Random(seed)
    labels = ["Lettre Verte", "Lettre recommandée AR", "Colissimo", "Destineo", "Frais de dossier"]
    invoices = []
    for n in range(count):
        issued = today - timedelta(days=rng.randrange(0, 700))
        lines, total_ht = [], 0
        for position in range(rng.randint(1, 4)):
            quantity = rng.randint(1, 5000)
            unit_cents = rng.randint(30, 900)
            amount = quantity * unit_cents
            total_ht += amount
            lines.append(
                {
                    "order_number": f"{39600000 + n * 4 + position}",
                    "label": f"Affranchissement {rng.choice(labels)}",
                    "quantity": str(quantity),
                    "unit_price_ht": f"{unit_cents / 100:.2f}",
                    "vat_rate": "20",
                    "amount_ht": f"{amount / 100:.2f}",
                }
            )
        total_ttc = total_ht + (total_ht + 2) // 5  # 20 % of VAT, rounded half up
        paid = issued < today - timedelta(days=60) or rng.random() < 0.5
        paid_on = min(today, issued + timedelta(days=rng.randint(3, 45)))  # before or after due
        invoices.append(
            {
                "number": f"7{n:07d}",
                "type": "invoice",
                "date": issued.isoformat(),
                "due_date": (issued + timedelta(days=30)).isoformat(),
                "status": "paid" if paid else "to_pay",
                **({"paid_on": paid_on.isoformat()} if paid else {}),
                "total_ht": f"{total_ht / 100:.2f}",
                "total_ttc": f"{total_ttc / 100:.2f}",
                "client_code": rng.choice(["00002501", "04008041"]),
                "subscriber": "CLIENT 1",
                "recipient": RECIPIENT,
                "lines": lines,
            }
        )
    return invoices
