"""The receipt of a paid top-up: an invoice for the amount, marked paid, that appears
in "Vos factures" (and is e-mailed by the notifications app like any new invoice)."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import Date, func, insert, literal, select

from core.extensions import db
from core.models import Organisation, utcnow
from plugins.invoices.models import Invoice, InvoiceLine, InvoiceRange


def receipt_number(payment_id: int) -> str:
    """``PAYMENTS_RECEIPT_PREFIX`` and the payment's id: never one of the provider's
    own invoice numbers, as long as the prefix is not one of theirs."""
    return f"{current_app.config['PAYMENTS_RECEIPT_PREFIX']}{payment_id:08d}"


def create_receipt(payment) -> tuple[int, str]:
    """Write the receipt of ``payment`` in the session's transaction (not committed);
    returns its id and number. A prepaid balance is outside the scope of VAT until it
    is spent: the receipt carries no VAT; the services paid from it are invoiced with
    theirs. Plain inserts (the first reads the organisation's row itself): this runs
    while the payment's row is locked."""
    label = current_app.config["PAYMENTS_TOPUP_REASON"]
    amount, number = payment.amount, receipt_number(payment.id)
    invoices, org = Invoice.__table__, Organisation.__table__
    values = {  # the recipient's columns are read from the organisation's row
        "organisation_id": literal(payment.organisation_id),
        "account_id": literal(payment.account_id), "number": literal(number),
        "kind": literal("invoice"),
        "issued_on": literal(utcnow().date(), Date), "status": literal("paid"),
        "currency": literal(payment.currency), "total_ht": literal(amount),
        "total_ttc": literal(amount), "subscriber": org.c.name, "recipient_name": org.c.name,
        "recipient_siret": func.coalesce(org.c.siret, ""), "recipient_address": org.c.address,
        "purchase_order": literal(payment.provider_id or ""), "source_hash": literal("receipt"),
    }  # fmt: skip
    receipt_id = db.session.scalar(
        insert(invoices)
        .from_select(
            list(values), select(*values.values()).where(org.c.id == payment.organisation_id)
        )
        .returning(invoices.c.id)
    )
    db.session.execute(
        insert(InvoiceLine.__table__).values(
            invoice_id=receipt_id,
            position=1,
            order_number=payment.provider_id or "",
            label=label,
            quantity=Decimal(1),
            unit_price_ht=Decimal(amount) / 100,
            vat_rate=Decimal(0),
            amount_ht=amount,
        )  # fmt: skip
    )
    db.session.execute(
        insert(InvoiceRange.__table__).values(
            invoice_id=receipt_id, position=1, label=label, total_ht=amount, total_ttc=amount
        )
    )
    return receipt_id, number
