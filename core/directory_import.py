"""Import of organisations and their accounts pushed by the provider (API and CLI).

Keyed by the organisation's SIRET and the account's client code: an unknown SIRET
creates the organisation, an unknown client code the account; known ones are updated
when the data differs, and nothing changes when it is the same. An account never moves
to another organisation through an import. The batch is checked whole first.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator
from sqlalchemy import select

from core import directory
from core.extensions import db
from core.import_items import FieldErrors, ImportItem, text_field, validate_item
from core.importing import Fault, ImportRejected, ImportResult, nest_prefixed, rows_matching
from core.models import Account, Organisation


class OrganisationPart(ImportItem):
    """The organisation an account belongs to: created when its SIRET is unknown
    (then ``name`` is required)."""

    siret: text_field(14, required=True, description="14 digits")
    name: text_field(200) = ""
    vat_number: text_field(20) = ""
    address: text_field(500) = ""
    locale: text_field(10, description="fr or en") = ""

    @model_validator(mode="after")
    def siret_has_14_digits(self):
        if not (self.siret.isdigit() and len(self.siret) == 14):
            raise FieldErrors([("organisation.siret", "a SIRET has 14 digits")])
        return self


class AccountItem(ImportItem):
    client_code: text_field(32, required=True, examples=("04008041",))
    name: text_field(200) = ""
    parent_code: text_field(32, description="the client code of the parent account") = ""
    organisation: OrganisationPart


def import_accounts(batch: Any) -> ImportResult:
    """Create or update the accounts of ``batch`` (and their organisations); commits once.
    Raises :class:`~core.importing.ImportRejected` with every fault when any item is wrong."""
    if not isinstance(batch, list):
        raise ImportRejected([Fault(0, "accounts", "must be a list")])
    faults: list[Fault] = []
    items = [
        _read(item, n)
        for n, raw in enumerate(batch, 1)
        if (item := validate_item(AccountItem, raw, n, "account", faults)) is not None
    ]
    codes = {i["client_code"] for i in items} | {i["parent_code"] for i in items}
    sirets = {i["siret"] for i in items}
    found = rows_matching(select(Account), Account.client_code, codes - {""})
    accounts = {account.client_code: account for (account,) in found}
    found = rows_matching(select(Organisation), Organisation.siret, sirets)
    orgs = {org.siret: org for (org,) in found}
    _check(items, accounts, orgs, faults)
    if faults:
        raise ImportRejected(faults)

    result = ImportResult()
    for item in items:
        org = orgs.get(item["siret"])
        if org is None:
            org = orgs[item["siret"]] = directory.create_organisation(
                siret=item["siret"], **item["organisation"]
            )
        else:
            directory.update_organisation(org, **item["organisation"])
        account = accounts.get(item["client_code"])
        if account is None:
            account = directory.create_account(org, client_code=item["client_code"])
            accounts[item["client_code"]] = account
            result.created.append(item["client_code"])
        item["account"] = account
    for item in items:  # parents once every account exists
        account = item["account"]
        parent = accounts.get(item["parent_code"])
        changes = {
            k: v
            for k, v in (("name", item["name"]), ("parent_id", parent.id if parent else None))
            if getattr(account, k) != v
        }
        if changes:
            directory.update_account(account, **changes)
        if item["client_code"] not in result.created:
            (result.updated if changes else result.unchanged).append(item["client_code"])
    db.session.commit()
    return result


def _read(item: AccountItem, row: int) -> dict[str, Any]:
    organisation = item.organisation.model_dump(exclude={"siret"})
    return {
        "row": row,
        "client_code": item.client_code,
        "name": item.name,
        "parent_code": item.parent_code,
        "siret": item.organisation.siret,
        "organisation": {k: v for k, v in organisation.items() if v},
    }


def _check(items, accounts, orgs, faults) -> None:
    """Faults that need the whole batch and the database: duplicates, unknown parents,
    accounts of another organisation, new organisations named nowhere in the batch."""
    batch_org = {}
    named = {item["siret"] for item in items if item["organisation"].get("name")}
    for item in items:
        code, row = item["client_code"], item["row"]
        if code in batch_org:
            faults.append(Fault(row, "client_code", f"{code} appears twice in the batch"))
            continue
        batch_org[code] = item["siret"]
        known = accounts.get(code)
        if known and known.organisation.siret != item["siret"]:
            faults.append(Fault(row, "client_code", f"{code} belongs to another organisation"))
        if item["siret"] not in orgs and item["siret"] not in named:
            faults.append(Fault(row, "organisation.name", "is required for a new organisation"))
    for item in items:
        parent = item["parent_code"]
        if not parent:
            continue
        parent_siret = batch_org.get(parent) or (
            accounts[parent].organisation.siret if parent in accounts else None
        )
        if parent == item["client_code"] or parent_siret is None:
            faults.append(Fault(item["row"], "parent_code", f"unknown client code {parent}"))
        elif parent_siret != item["siret"]:
            faults.append(
                Fault(item["row"], "parent_code", "must be an account of the same organisation")
            )


def accounts_from_csv(rows: list[dict], lines: list[int]) -> tuple[list[dict], list[int]]:
    """CSV columns: client_code, name, parent_code, organisation_siret, organisation_name,
    organisation_vat_number, organisation_address, organisation_locale."""
    return [nest_prefixed(row, "organisation_", "organisation") for row in rows], lines
