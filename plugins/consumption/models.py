"""Consumption records pushed by the provider (postage by product, franking machines,
contract products), and their monthly totals, which the import keeps up to date so that
views read a few thousand rows, not millions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.plugin_api import (
    AccountScopedMixin,
    db,
)

PLUGIN = {"guichet_plugin": "consumption"}
PERIOD_KINDS = ("day", "month")


class ConsumptionRecord(AccountScopedMixin, db.Model):
    """One line of consumption: a product used by an account over a day or a month."""

    __tablename__ = "consumption_records"
    __table_args__ = (
        Index("ix_consumption_records_org_month", "organisation_id", "month", "id"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)  # the provider's key
    contract: Mapped[str] = mapped_column(String(100), default="")  # a contract number
    family: Mapped[str] = mapped_column(String(100))
    product: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date] = mapped_column(Date)
    period_kind: Mapped[str] = mapped_column(String(5), default="month")
    month: Mapped[date] = mapped_column(Date)  # the first day of the period's month
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    unit: Mapped[str] = mapped_column(String(20))
    amount_ht: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    source_hash: Mapped[str] = mapped_column(String(64), default="")


class MonthlyTotal(AccountScopedMixin, db.Model):
    """The sum of the records of one month, per account, contract, product and unit."""

    __tablename__ = "consumption_monthly"
    __table_args__ = (
        UniqueConstraint(
            "organisation_id",
            "month",
            "account_id",
            "contract",
            "family",
            "product",
            "unit",
            "currency",
            name="uq_consumption_monthly_key",
        ),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    contract: Mapped[str] = mapped_column(String(100), default="")
    family: Mapped[str] = mapped_column(String(100))
    product: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 3))
    amount_ht: Mapped[int] = mapped_column(BigInteger)
    records: Mapped[int] = mapped_column(Integer)
