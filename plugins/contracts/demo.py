"""Demo contracts: the documented "1-10265655331 - 0" (Compte Clients) with its
"Conditions spécifiques de vente", then enough generated ones (57 in all) for a list
with several pages."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

from core.plugin_api import (
    encode_pdf,
    render_pdf,
)

PRODUCTS = (
    "Affranchigo Liberté",
    "Affranchigo Forfait",
    "Machine à affranchir",
    "Lettre recommandée en ligne",
    "Destineo",
    "Collecte et remise du courrier",
    "Boîte postale",
)
TOTAL = 57


def terms_pdf(number: str) -> bytes:
    """A one-page "Conditions spécifiques de vente" for contract ``number``."""
    html = (
        "<h1>Conditions spécifiques de vente</h1>"
        f"<p>Contrat n° {number}</p>"
        "<p>Les présentes conditions complètent les conditions générales de vente. "
        "Elles prévalent sur celles-ci en cas de contradiction.</p>"
    )
    out = io.BytesIO()
    render_pdf(html, out)
    return out.getvalue()


def demo_contracts(organisation, today: date) -> list[dict]:
    codes = [a.client_code for a in organisation.accounts]
    main = "04008041" if "04008041" in codes else codes[0]
    number = "1-10265655331 - 0"
    contracts = [
        {
            "number": number,
            "product": "Compte Clients",
            "client_code": main,
            "status": "active",
            "start_date": date(today.year - 4, 1, 1).isoformat(),
            "documents": [
                {"title": "Conditions spécifiques de vente", "pdf": encode_pdf(terms_pdf(number))}
            ],
        }
    ]
    rng = random.Random(organisation.id)
    for index in range(1, TOTAL):
        start = today - timedelta(days=rng.randint(30, 2500))
        end = start + timedelta(days=rng.choice((365, 730, 1095))) if index % 3 else None
        status = "ended" if end and end < today else rng.choice(("active",) * 9 + ("suspended",))
        contracts.append(
            {
                "number": f"1-{10265655331 + index * 7919} - 0",
                "product": rng.choice(PRODUCTS),
                "client_code": rng.choice(codes),
                "status": status,
                "start_date": start.isoformat(),
                "end_date": end.isoformat() if end else "",
            }
        )
    return contracts
