"""Invoices and credit notes, with their lines and their summary by product range.
Amounts are integers in minor units (cents); credit notes carry negative amounts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.plugin_api import (
    Account,
    AccountScopedMixin,
    db,
    utcnow,
)

PLUGIN = {"guichet_plugin": "invoices"}
KINDS = ("invoice", "credit_note")
STATUSES = ("to_pay", "paid")  # "overdue" is derived: to pay and past its due date


class Invoice(AccountScopedMixin, db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        # newest first, and what a deep page of an amount filter or the widget's first
        # month reads, from the index alone
        Index(
            "ix_invoices_org_issued",
            *("organisation_id", "issued_on", "id", "status", "total_ttc", "credited"),
            *("currency", "kind"),
        ),
        Index("ix_invoices_account_issued", "account_id", "issued_on"),
        # the list sorts and filters on these within an organisation; the trailing
        # columns let the count of a filtered list read only the index
        Index("ix_invoices_org_ttc", "organisation_id", "total_ttc", "id", "issued_on"),
        Index("ix_invoices_org_ht", "organisation_id", "total_ht"),
        Index(
            "ix_invoices_org_status_due",
            *("organisation_id", "status", "due_on", "issued_on", "total_ttc", "credited"),
        ),
        Index("ix_invoices_org_status_ttc", "organisation_id", "status", "total_ttc"),
        # the names an organisation bills, one after the other (its search by subscriber)
        Index("ix_invoices_org_subscriber", "organisation_id", "subscriber"),
        # the currencies an organisation bills in, one after the other (its statement),
        # on PostgreSQL: SQLite finds them as fast without it, and would rather read
        # this index than the covering ones to group by currency (so it holds no row)
        Index(
            "ix_invoices_org_currency",
            "organisation_id",
            "currency",
            sqlite_where=text("0"),
        ),
        # numbers by prefix on PostgreSQL (starts_with): the pattern operators, which
        # its collation does not change; SQLite's unique index on number serves there,
        # so this one holds no row on SQLite
        Index(
            "ix_invoices_number_pattern",
            "number",
            postgresql_ops={"number": "varchar_pattern_ops"},
            sqlite_where=text("0"),
        ),
        # the payments of a statement of account in order, and their sums, from the
        # index alone
        Index(
            "ix_invoices_org_paid",
            *("organisation_id", "paid_on", "id", "currency", "total_ttc", "credited"),
            "account_id",
            sqlite_where=text("paid_on IS NOT NULL"),
            postgresql_where=text("paid_on IS NOT NULL"),
        ),
        # the credit notes that name an invoice (most rows name none)
        Index(
            "ix_invoices_cancels",
            "cancels",
            sqlite_where=text("cancels != ''"),
            postgresql_where=text("cancels != ''"),
        ),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # not indexed alone: the indexes above start with them
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="invoice")
    # On a credit note: the number of the invoice it cancels, whose amount it reduces.
    cancels: Mapped[str] = mapped_column(String(32), default="")
    # On an invoice: the sum (negative) of the credit notes that cancel it, kept by the
    # import; what is left to pay is total_ttc + credited.
    credited: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="to_pay")
    # The day a paid invoice was paid (by the import's ``paid_on``, the day the import
    # first said "paid", or the day of the portal's payment); none while to pay.
    paid_on: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total_ht: Mapped[int] = mapped_column(BigInteger)
    total_ttc: Mapped[int] = mapped_column(BigInteger)
    subscriber: Mapped[str] = mapped_column(String(200), default="")
    sub_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    edi: Mapped[bool] = mapped_column(Boolean, default=False)
    # references
    business_unit: Mapped[str] = mapped_column(String(100), default="")
    site_1: Mapped[str] = mapped_column(String(100), default="")
    site_2: Mapped[str] = mapped_column(String(100), default="")
    purchase_order: Mapped[str] = mapped_column(String(100), default="")
    framework_contract: Mapped[str] = mapped_column(String(100), default="")
    local_contract: Mapped[str] = mapped_column(String(100), default="")
    # recipient
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    recipient_siret: Mapped[str] = mapped_column(String(14), default="")
    recipient_address: Mapped[str] = mapped_column(Text, default="")
    recipient_vat_number: Mapped[str] = mapped_column(String(20), default="")
    # where e-invoices reach the buyer: an address of the French directory (scheme 0225)
    # or of Peppol, and the ISO 6523 scheme it is in
    recipient_routing_id: Mapped[str] = mapped_column(String(100), default="")
    recipient_routing_scheme: Mapped[str] = mapped_column(String(4), default="")
    # what the buyer asks its invoices to carry (a service, a cost centre): BT-10
    buyer_reference: Mapped[str] = mapped_column(String(100), default="")
    # payment terms as written ("30 jours fin de mois") and means (UNTDID 4461: 30
    # transfer, 58 SEPA transfer, 49 direct debit...); "" leaves the choice to the issuer
    payment_terms: Mapped[str] = mapped_column(Text, default="")
    payment_means: Mapped[str] = mapped_column(String(3), default="")
    # Mentions printed on the document (a VAT exemption, a note to the customer)
    notes: Mapped[str] = mapped_column(Text, default="")
    # The provider's own PDF, kept by core.documents ("" when we render it ourselves)
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")
    # Fingerprint of the imported data: the same data sent again changes nothing.
    source_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    account: Mapped[Account] = relationship(foreign_keys="Invoice.account_id")
    sub_account: Mapped[Account | None] = relationship(foreign_keys=[sub_account_id])
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )
    ranges: Mapped[list[InvoiceRange]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceRange.position"
    )

    @property
    def amount_due(self) -> int:
        """What is left to pay: nothing on a paid invoice or a credit note, else the
        total less the credit notes that cancel it."""
        if self.kind != "invoice" or self.status != "to_pay":
            return 0
        return max(0, self.total_ttc + self.credited)

    @property
    def is_cancelled(self) -> bool:
        """An invoice to pay whose credit notes cancel it whole."""
        return self.kind == "invoice" and self.status == "to_pay" and self.amount_due == 0

    def is_overdue(self, today: date) -> bool:
        return self.amount_due > 0 and self.due_on is not None and self.due_on < today

    def display_status(self, today: date) -> str:
        if self.is_cancelled:
            return "cancelled"
        return "overdue" if self.is_overdue(today) else self.status


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"
    __table_args__ = ({"info": PLUGIN},)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    order_number: Mapped[str] = mapped_column(String(50), default="")
    label: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    unit_price_ht: Mapped[Decimal] = mapped_column(Numeric(18, 6))  # exact, sub-cent prices
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # percent, e.g. 20.00
    amount_ht: Mapped[int] = mapped_column(BigInteger)
    # EN 16931's VAT category (S standard, E exempt, AE reverse charge, K intra-EU, G
    # export, O outside scope, Z zero rated); "" is S above 0 %, E at 0 %
    vat_category: Mapped[str] = mapped_column(String(2), default="")
    vat_exemption_reason: Mapped[str] = mapped_column(String(300), default="")

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceRange(db.Model):
    """The summary of an invoice by product range ("gamme")."""

    __tablename__ = "invoice_ranges"
    __table_args__ = ({"info": PLUGIN},)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    total_ht: Mapped[int] = mapped_column(BigInteger)
    total_ttc: Mapped[int] = mapped_column(BigInteger)

    invoice: Mapped[Invoice] = relationship(back_populates="ranges")


class ReceiptNumber(db.Model):
    """The last number given to a receipt under a prefix: French invoicing rules want
    one unbroken, chronological sequence per issuer. Taken in the payment's
    transaction (its row stays locked until the commit), so a rolled-back payment
    leaves no gap and two receipts never share a number."""

    __tablename__ = "receipt_numbers"
    __table_args__ = ({"info": PLUGIN},)

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class InvoiceTotal(AccountScopedMixin, db.Model):
    """What is still to pay on an account's invoices of one month of issue, in one
    currency: the count and the sum of what is left to pay (``total_ttc + credited``) of
    its invoices to pay. Kept by :mod:`..totals` whenever invoices change (an import,
    a credit note, a payment), so that the widget reads a few rows, not every invoice."""

    __tablename__ = "invoice_totals"
    __table_args__ = (
        UniqueConstraint("account_id", "month", "currency"),
        Index("ix_invoice_totals_org_month", "organisation_id", "month"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month of issue
    currency: Mapped[str] = mapped_column(String(3))
    to_pay_count: Mapped[int] = mapped_column(Integer, default=0)
    to_pay_amount: Mapped[int] = mapped_column(BigInteger, default=0)
