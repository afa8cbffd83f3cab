"""Automatic top-up of the wallet from the mandate: when a debit takes the balance
below the alert threshold the wallet's admins chose (the wallet's event
``wallet.low``, once per crossing), and the organisation asked for it (this app's
setting ``topup``, in euros; 0: never), a recurring payment of that amount is taken
on its latest valid mandate, for the wallet's ``topup`` purpose: the wallet is
credited once the bank pays. One top-up per crossing (the debit's ledger entry is
its key), none while another is under way."""

from __future__ import annotations

import logging

from flask import render_template
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from core.plugin_api import (
    Account,
    PaymentError,
    admin_emails,
    app_settings,
    db,
    external_url,
    money,
    organisation_language,
    send_email,
    task,
    utcnow,
)
from core.plugin_api import gettext as _
from plugins.payments import public as payments

from .models import Mandate, Topup
from .states import move_state, note_payment

log = logging.getLogger(__name__)
APP_KEY = "autopay"
UNDER_WAY = ("charging", "pending")

_CLAIM = {
    dialect.dialect.name: dialect.insert(Topup)
    .on_conflict_do_nothing(index_elements=["entry_id"])
    .returning(Topup.id)
    for dialect in (sqlite, postgresql)
}


def on_low(payload: dict) -> int | None:
    """The balance fell below the threshold: ask for the organisation's top-up, if it
    wants one and none is under way; returns the top-up's id, if one was asked."""
    organisation_id = payload["organisation_id"]
    amount = int(app_settings(organisation_id, APP_KEY)["topup"] or 0) * 100
    if not amount:
        return None
    mandate_id = db.session.scalar(
        select(Mandate.id)
        .where(Mandate.organisation_id == organisation_id, Mandate.state == "valid")
        .order_by(Mandate.id.desc())
    )
    if mandate_id is None:
        log.info("no automatic top-up for organisation %s: no valid mandate", organisation_id)
        return None
    under_way = db.session.scalar(
        select(Topup.id).where(Topup.organisation_id == organisation_id, Topup.state.in_(UNDER_WAY))
    )
    if under_way is not None:
        return None
    now = utcnow()
    row = {
        "organisation_id": organisation_id,
        "entry_id": payload["entry_id"],
        "mandate_id": mandate_id,
        "amount": amount,
        "state": "charging",
        "reason": "",
        "created_at": now,
        "updated_at": now,
    }
    topup_id = db.session.scalar(_CLAIM[db.session.get_bind().dialect.name], row)
    db.session.commit()
    if topup_id is not None:
        charge(topup_id)
    return topup_id


@task(kind="payments", retries=5)
def charge(topup_id: int) -> str:
    """Ask for the top-up's payment on the mandate (again under the same key when a
    try is repeated); returns what became of it."""
    row = db.session.get(Topup, topup_id)
    if row is None or row.state != "charging":
        return row.state if row is not None else "gone"
    account_id = db.session.scalar(  # the receipt goes to the first account, as by hand
        select(Account.id)
        .where(Account.organisation_id == row.organisation_id)
        .order_by(Account.client_code)
    )
    mandate = row.mandate
    reason = "" if mandate.usable else f"the mandate is {mandate.state}"
    if account_id is None:
        reason = "the organisation has no account"
    if not reason:
        try:
            payment = payments.start(
                "topup",
                row.organisation_id,
                account_id,
                row.amount,
                _("Automatic wallet top-up of %(amount)s", amount=money(row.amount)),
                None,
                mandate=(mandate.customer_id, mandate.provider_id),
                key=row.key,
            )
        except PaymentError as error:
            if error.retry:
                raise
            db.session.rollback()
            reason = error.message
        else:
            ended = note_payment(Topup, topup_id, payment)
            if ended:
                _follow(topup_id, *ended)
            return db.session.get(Topup, topup_id).state
    _follow(topup_id, "failed", reason)
    return "failed"


def follow_payment(payment_id: int, status: str, reason: str) -> None:
    """The payment of one of our top-ups moved."""
    topup_id = db.session.scalar(select(Topup.id).where(Topup.payment_id == payment_id))
    if topup_id is not None:
        _follow(topup_id, status, reason)


def _follow(topup_id: int, status: str, reason: str) -> None:
    if move_state(Topup, topup_id, status, reason) in ("failed", "charged_back"):
        tell(topup_id)


@task(kind="mail", retries=5)
def tell(topup_id: int) -> str:
    """E-mail the admins that an automatic top-up failed or was taken back."""
    row = db.session.get(Topup, topup_id)
    with organisation_language(row.organisation_id):
        subject = _("The automatic top-up of your wallet failed")
        body = render_template(
            "autopay/topup_failed.txt",
            topup=row,
            amount=money(row.amount),
            link=external_url("wallet.topup"),
            settings=external_url("portal.app_settings", app_key=APP_KEY),
        )
    admins = admin_emails(row.organisation_id)
    return "sent" if admins and send_email(admins, subject, body) else "unsent"
