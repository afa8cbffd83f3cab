"""Demo data for a newcomer: the organisation "Client 1" with two accounts, a customer
admin and an operator. Running it again keeps the data and prints fresh passwords."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from core import directory, documents
from core.activation import set_app_enabled
from core.appsystem import registry
from core.extensions import db
from core.models import Account, Organisation, User
from core.passwords import set_password

DEMO_ORG = "Client 1"
DEMO_ACCOUNTS = [("00002501", "Client 1 – Siège"), ("04008041", "Client 1 – Agence de Lyon")]
# What the demo's members find on their dashboard (the apps that are installed).
DEMO_DASHBOARD = {
    "favourites": ["invoices", "contracts", "consumption", "wallet", "postal"],
    "pins": [
        "invoices.latest",
        "wallet.balance",
        "consumption.glance",
        "contracts.glance",
        "postal.progress",
        "account.summary",
    ],
}
# Apps off by default that the demo's organisation has on, to be seen (when installed).
DEMO_APPS = ("autopay",)
# The provider the demo's documents name, complete with the legal mentions an invoice
# must carry (written into the instance's guichet.toml when it names none).
DEMO_ISSUER = {
    "name": "Guichet Démo SAS",
    "address": "12 rue des Postes\n69002 Lyon",
    "siret": "91234567800011",
    "vat_number": "FR74912345678",
    "iban": "FR76 3000 6000 0112 3456 7890 189",
}
DEMO_USERS = [
    ("demo@example.com", "Camille Martin", False),
    ("operator@example.com", "Opérateur Guichet", True),
]


def load_demo() -> list[str]:
    """Create (or refresh) the demo data; returns the lines to print."""
    org = db.session.scalar(select(Organisation).where(Organisation.name == DEMO_ORG))
    if org is None:
        org = directory.create_organisation(
            name=DEMO_ORG,
            siret="35600000000048",
            vat_number="FR23356000000",
            address="9 rue du Colonel Pierre Avia\n75015 Paris",
        )
        apps, widgets = registry(current_app).apps, registry(current_app).widgets
        org.dashboard_defaults = {
            "favourites": [k for k in DEMO_DASHBOARD["favourites"] if k in apps],
            "pins": [k for k in DEMO_DASHBOARD["pins"] if k in widgets],
        }
        for key in DEMO_APPS:
            if key in apps:
                set_app_enabled(org, key, True)
    parent_id = None
    for code, name in DEMO_ACCOUNTS:
        account = db.session.scalar(select(Account).where(Account.client_code == code))
        if account is None:
            account = directory.create_account(
                org, client_code=code, name=name, parent_id=parent_id
            )
        parent_id = parent_id or account.id
    lines = []
    for email, name, operator in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = directory.create_user(email, password=password, name=name, is_operator=operator)
        else:
            set_password(user, password)
        if not operator:
            directory.set_membership(user, org, "admin")
        who = "operator" if operator else "customer"
        lines.append(f"{who:>9}: {email}  password: {password}")
    db.session.commit()
    extra = registry(current_app).call("guichet_demo_data", organisation=org)
    _demo_terms()
    return ["Demo data loaded.", *[str(x) for x in extra], *_demo_issuer(), "Log in with:", *lines]


DEMO_TERMS = Path(__file__).parent / "templates" / "portal" / "demo_conditions.txt"


def _demo_terms() -> None:
    """The demo's terms of sale, unless the installation has its own."""
    path = Path(current_app.instance_path) / "conditions.txt"
    if not path.exists() and not current_app.config["BRAND"].get("terms_url"):
        path.write_text(DEMO_TERMS.read_text("utf-8"), "utf-8")


def _demo_issuer() -> list[str]:
    """Give the installation the demo's issuer, when its documents name no complete
    one and its guichet.toml says nothing of it (the servers read it when they start)."""
    if not documents.issuer_missing(current_app.config["ISSUER"]):
        return []
    path = Path(current_app.instance_path) / "guichet.toml"
    written = path.read_text("utf-8") if path.exists() else ""
    if "ISSUER" in written:
        return [f"warning: ISSUER in {path} lacks legal mentions; invoices have no PDF"]
    block = "\n".join(
        [
            "",
            "# Written by `guichet demo`: the provider named on documents. Put yours here.",
            "[ISSUER]",
            *(
                f"{key} = {json.dumps(value, ensure_ascii=False)}"
                for key, value in DEMO_ISSUER.items()
            ),
            "",
        ]
    )
    path.write_text(written + block, "utf-8")
    current_app.config["ISSUER"] = dict(DEMO_ISSUER)
    return [f"issuer of the demo's documents: {DEMO_ISSUER['name']} (in {path})"]
