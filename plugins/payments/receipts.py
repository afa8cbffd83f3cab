"""The receipt of a paid top-up: an invoice for the amount, marked paid, that appears
in "Vos factures" (and is e-mailed by the notifications app like any new invoice)."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import insert

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
    theirs. Plain inserts: this runs while the payment's row is locked."""
    organisation = db.session.get(Organisation, payment.organisation_id)
    label = current_app.config["PAYMENTS_TOPUP_REASON"]
    amount, number = payment.amount, receipt_number(payment.id)
    receipt_id = db.session.scalar(
        insert(Invoice.__table__)
        .values(
            organisation_id=payment.organisation_id,
            account_id=payment.account_id,
            number=number,
            kind="invoice",
            issued_on=utcnow().date(),
            status="paid",
            currency=payment.currency,
            total_ht=amount,
            total_ttc=amount,
            subscriber=organisation.name,
            recipient_name=organisation.name,
            recipient_siret=organisation.siret or "",
            recipient_address=organisation.address,
            purchase_order=payment.provider_id or "",
            source_hash="receipt",
        )
        .returning(Invoice.__table__.c.id)
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
