"""The automatic-payment page: the organisation's mandates, its accounts and whether
each is paid automatically, and the debits announced and taken. Admins sign and
revoke mandates and choose the accounts; members see what will be debited."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from core.plugin_api import (
    Account,
    PaymentError,
    StatusListing,
    app_usable,
    current_membership,
    current_scope,
    db,
    form_status,
    get_scoped_or_404,
    limiter,
    page_rows,
    read_listing,
    render,
    scoped,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from plugins.payments import public as payments

from . import cards, mandates
from .forms import AccountForm, MandateForm
from .models import AutopayAccount, Charge, Mandate

bp = Blueprint("autopay", __name__, template_folder="templates")
STATE_LABELS = {
    "scheduled": _l("Announced"),
    "charging": _l("Being debited"),
    "pending": _l("At the bank"),
    "paid": _l("Paid"),
    "failed": _l("Failed"),
    "charged_back": _l("Taken back by the bank"),
    "skipped": _l("Not debited"),
}
MANDATE_LABELS = {
    "pending": _l("Being checked"),
    "valid": _l("Valid"),
    "invalid": _l("Refused by the bank"),
    "revoked": _l("Revoked"),
}
ACCOUNTS_SHOWN = 200  # accounts listed with their choice (the others: ask an operator)


def _admin() -> None:
    if not current_membership().is_admin:
        abort(404)


def _mandates(valid_only: bool = False) -> list[Mandate]:
    query = scoped(Mandate).order_by(Mandate.id.desc())
    if valid_only:
        query = query.where(Mandate.state == "valid")
    return list(db.session.scalars(query))


@bp.get("/")
def index():
    """Mandates, accounts and debits; ``?status=`` filters the debits."""
    listing = StatusListing()
    read_listing(listing, request.args, {"date": Charge.id}, "date", descending=True)
    query = scoped(Charge)
    if listing.read_status(request.args, STATE_LABELS):
        query = query.where(Charge.state == listing.status)
    charges = page_rows(listing, query, (Charge.id.desc(),))
    accounts = db.session.scalars(
        scoped(Account).order_by(Account.client_code).limit(ACCOUNTS_SHOWN)
    ).all()
    chosen = {
        row.account_id: row.mandate_id
        for row in db.session.scalars(
            scoped(AutopayAccount).where(AutopayAccount.account_id.in_([a.id for a in accounts]))
        )
    }
    every = _mandates()
    return render(
        "autopay/index.html",
        "results",
        listing=listing,
        charges=charges,
        states=STATE_LABELS,
        mandates=every,
        mandates_by_id={m.id: m for m in every},
        mandate_states=MANDATE_LABELS,
        usable=[m for m in every if m.usable],
        accounts=accounts,
        chosen=chosen,
        is_admin=current_membership().is_admin,
        available=mandates.provider_ready() is not None,
        wallet=app_usable("wallet"),
    )


@bp.route("/mandat", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def sign():
    """An admin signs a SEPA Direct Debit mandate for the organisation."""
    _admin()
    form = MandateForm()
    if mandates.provider_ready() is None:
        abort(404)
    if form.validate_on_submit():
        try:
            mandate = mandates.sign(
                current_scope().organisation_id,
                current_user.id,
                form.signatory.data,
                form.iban.data,
                form.bic.data or "",
            )
        except mandates.MandateRefused as refused:
            getattr(form, refused.field).errors.append(str(refused))
        else:
            flash(
                _("The mandate for account %(account)s is signed.", account=mandate.account),
                "success",
            )
            return redirect(url_for("autopay.index"), 303)
    return render("autopay/sign.html", "content", form=form), form_status(form)


@bp.post("/carte")
@limiter.limit("20/hour")
def save_card():
    """An admin saves a card: off to the provider's checkout (a payment of 0.00)."""
    _admin()
    if mandates.provider_ready() is None:
        abort(404)
    account_id = db.session.scalar(  # the payment is filed under the first account in view
        scoped(Account).with_only_columns(Account.id).order_by(Account.client_code)
    )
    if account_id is None:
        abort(422, _("A card is saved under a customer account: your organisation has none yet."))
    try:
        payment = cards.start(current_scope().organisation_id, account_id, current_user.id)
    except PaymentError as error:
        db.session.rollback()
        flash(payments.refusal(error))
        return redirect(url_for("autopay.index"), 303)
    return redirect(payments.checkout_target(payment), 303)


@bp.get("/carte/<int:payment_id>")
def card_saved(payment_id: int):
    """Where the checkout sends the admin back: the card is saved, or it is not."""
    _admin()
    status = payments.status_of(payment_id, current_scope().organisation_id)
    if status is None:
        abort(404)
    if status == "paid":
        flash(_("Your card is saved: choose below the accounts paid with it."), "success")
    elif status in ("open", "pending", "authorized"):
        flash(_("Your card is being checked; it will appear here in a moment."))
    else:
        flash(_("The card was not saved: nothing was charged. You may try again."))
    return redirect(url_for("autopay.index"), 303)


@bp.post("/mandats/<int:mandate_id>/revoquer")
def revoke(mandate_id: int):
    """An admin revokes a mandate: nothing more is debited on it."""
    _admin()
    mandate = get_scoped_or_404(Mandate, mandate_id)
    if mandate.state in ("valid", "pending"):
        try:
            mandates.revoke(mandate)
        except PaymentError as error:
            db.session.rollback()
            flash(_("The payment service cannot be reached: %(reason)s", reason=error.message))
            return redirect(url_for("autopay.index"), 303)
        flash(_("The mandate for account %(account)s is revoked.", account=mandate.account))
    return redirect(url_for("autopay.index"), 303)


@bp.post("/comptes/<int:account_id>")
def choose(account_id: int):
    """An admin has an account's invoices paid automatically on a mandate, or not."""
    _admin()
    account = get_scoped_or_404(Account, account_id)
    form = AccountForm(_mandates(valid_only=True))
    if not form.validate_on_submit():
        abort(422, _("Choose one of the organisation's valid mandates."))
    row = db.session.scalar(select(AutopayAccount).where(AutopayAccount.account_id == account.id))
    if not form.mandate.data:
        if row is not None:
            db.session.delete(row)
        message = _(
            "The invoices of %(account)s are no longer paid automatically.",
            account=account.client_code,
        )
    else:
        if row is None:
            row = AutopayAccount(organisation_id=account.organisation_id, account_id=account.id)
            db.session.add(row)
        row.mandate_id, row.chosen_by = int(form.mandate.data), current_user.id
        message = _(
            "The invoices of %(account)s will be paid automatically on their due date.",
            account=account.client_code,
        )
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("autopay.index"), 303)
