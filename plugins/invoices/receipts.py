"""The receipt of a paid top-up (this app's part of the ``topup`` payment purpose):
an invoice for the amount, marked paid, that appears in "Vos factures" and is
e-mailed to its payer by the notifications app, like any new invoice."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import Date, bindparam, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from core.plugin_api import (
    Organisation,
    PaymentChange,
    PurposeOutcome,
    db,
    utcnow,
)

from .models import Invoice, InvoiceLine, ReceiptNumber

_numbers = ReceiptNumber.__table__
_NEXT_NUMBER = {
    dialect.dialect.name: dialect.insert(_numbers)
    .values(prefix=bindparam("prefix"), last=1)
    .on_conflict_do_update(index_elements=["prefix"], set_={"last": _numbers.c.last + 1})
    .returning(_numbers.c.last)
    for dialect in (sqlite, postgresql)
}


def next_receipt_number() -> str:
    """The next number of the receipts' sequence: ``PAYMENTS_RECEIPT_PREFIX`` and a
    counter without gaps (never one of the provider's own invoice numbers, as long as
    the prefix is not one of theirs). Locks the counter until the commit."""
    prefix = current_app.config["PAYMENTS_RECEIPT_PREFIX"]
    last = db.session.scalar(_NEXT_NUMBER[db.session.get_bind().dialect.name], {"prefix": prefix})
    return f"{prefix}{last:08d}"


# The receipt's two inserts, built once (building one anew costs more than running
# it). The recipient's columns are read from the organisation's row by the first.
_invoices, _org = Invoice.__table__, Organisation.__table__
_RECEIPT = {
    "organisation_id": bindparam("organisation_id"),
    "account_id": bindparam("account_id"),
    "number": bindparam("number"),
    "kind": literal("invoice"),
    "issued_on": bindparam("issued_on", type_=Date),
    "status": literal("paid"),
    "currency": bindparam("currency"),
    "total_ht": bindparam("amount"),
    "total_ttc": bindparam("amount"),
    "subscriber": _org.c.name,
    "recipient_name": _org.c.name,
    "recipient_siret": func.coalesce(_org.c.siret, ""),
    "recipient_address": _org.c.address,
    "notes": bindparam("notes"),
    "source_hash": literal("receipt"),
}
_NEW_RECEIPT = (
    insert(_invoices)
    .from_select(
        list(_RECEIPT),
        select(*_RECEIPT.values()).where(_org.c.id == bindparam("organisation_id")),
    )
    .returning(_invoices.c.id)
)
_NEW_LINE = insert(InvoiceLine.__table__).values(
    position=1, quantity=Decimal(1), vat_rate=Decimal(0)
)


def issue_receipt(change: PaymentChange) -> PurposeOutcome:
    """Write the receipt of a paid top-up in the payment's transaction (not committed).
    A prepaid balance is outside the scope of VAT until it is spent: the receipt
    carries no VAT; the services paid from it are invoiced with theirs. One line and
    no summary by range, which would repeat it. Plain inserts: this runs while the
    payment's row is locked."""
    payment = change.payment
    label = current_app.config["PAYMENTS_RECEIPT_LABEL"]
    number = next_receipt_number()
    receipt_id = db.session.scalar(
        _NEW_RECEIPT,
        {
            "organisation_id": payment.organisation_id,
            "account_id": payment.account_id,
            "number": number,
            "issued_on": utcnow().date(),
            "currency": payment.currency,
            "amount": change.amount,
            "notes": current_app.config["PAYMENTS_RECEIPT_NOTE"],
        },
    )
    if payment.provider_id:  # the payment's reference, for the payer's records
        label = f"{label} (paiement {payment.provider_id})"
    db.session.execute(
        _NEW_LINE,
        {
            "invoice_id": receipt_id,
            "order_number": "",
            "label": label,
            "unit_price_ht": Decimal(change.amount) / 100,
            "amount_ht": change.amount,
        },
    )
    created = {
        "organisation_id": payment.organisation_id,
        "invoice_id": receipt_id,
        "number": number,
        "recipient_user_id": payment.user_id,
    }
    return PurposeOutcome(events=[("invoice.created", created)], receipt_id=receipt_id)
