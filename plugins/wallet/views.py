"""The pages of the wallet: the balance and its history, its CSV export, the top-up
form (the payment itself is the payments app's), the widget."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, redirect, render_template, request
from flask_login import current_user

from core.plugin_api import (
    Account,
    Listing,
    PaymentError,
    csv_response,
    csv_text,
    current_membership,
    current_scope,
    db,
    form_status,
    ledger,
    limiter,
    money,
    page_rows,
    payment_provider,
    read_listing,
    render,
    requested_dialect,
    scoped,
    stream_rows,
    when_context_ends,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from plugins.payments import public as payments

from . import alerts
from .forms import TopUpForm

WalletEntry, KINDS = ledger.WalletEntry, ledger.KINDS
KIND_LABELS = {
    "topup": _l("Top-up"),
    "postage": _l("Postage"),
    "refund": _l("Refund"),
    "adjustment": _l("Adjustment"),
}
CSV_COLUMNS = (
    ("date", _l("Date")),
    ("kind", _l("Kind")),
    ("amount", _l("Amount")),
    ("balance_after", _l("Balance")),
    ("reason", _l("Reason")),
    ("reference", _l("Reference")),
)
bp = Blueprint("wallet", __name__, template_folder="templates")
when_context_ends(bp, alerts.flush)


@dataclass
class History(Listing):
    kind: str = ""

    def own_args(self) -> dict[str, str]:
        return {"kind": self.kind}


def _history(args) -> tuple[History, object]:
    history = History()
    read_listing(history, args, {"date": WalletEntry.id}, "date", descending=True)
    kind = args.get("kind", "")
    history.kind = kind if kind in KINDS else ""
    if kind and not history.kind:
        history.messages.append(_l("Unknown kind of entry; it was ignored."))
    query = scoped(WalletEntry)
    if history.kind:
        query = query.where(WalletEntry.kind == history.kind)
    return history, query


def _state(organisation_id: int) -> dict:
    amount = ledger.balance(organisation_id)
    return {
        "balance": amount,
        "covers_letter": amount >= current_app.config["WALLET_LETTER_PRICE"],
        "can_top_up": topup_available(organisation_id),
    }


def topup_available(organisation_id: int) -> bool:
    """Top-ups need the online payments app and a configured provider."""
    return payments.available(organisation_id)


@bp.route("/recharger", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def topup():
    """The "Charger le solde" form: choose an amount, then pay it at the provider."""
    scope = current_scope()
    if not topup_available(scope.organisation_id):
        abort(404)
    config = current_app.config
    presets = [
        p
        for p in config["WALLET_TOPUP_PRESETS"]
        if config["WALLET_TOPUP_MIN"] <= p <= config["WALLET_TOPUP_MAX"]
    ]
    provider = payment_provider()
    methods = payments.method_choices(presets[0] if presets else config["WALLET_TOPUP_MIN"])
    form = TopUpForm(presets, methods)
    account_id = db.session.scalar(  # the receipt goes to the first account in view
        scoped(Account, scope).with_only_columns(Account.id).order_by(Account.client_code)
    )
    if account_id is None:
        form.form_errors.append(_("Your organisation has no customer account yet."))
    if form.validate_on_submit() and account_id is not None:
        amount = form.amount()
        if amount is not None:
            try:
                payment = payments.start(
                    "topup",
                    scope.organisation_id,
                    account_id,
                    amount,
                    _("Wallet top-up of %(amount)s", amount=money(amount)),
                    current_user.id,
                    method=form.method.data or None,
                )
            except PaymentError as error:
                form.form_errors.append(payments.refusal(error))
            else:
                return redirect(payments.checkout_target(payment), 303)
    return render_template(
        "wallet/topup.html",
        form=form,
        provider=provider,
        low=config["WALLET_TOPUP_MIN"],
        high=config["WALLET_TOPUP_MAX"],
        **_state(scope.organisation_id),
    ), form_status(form)


@bp.get("/")
def index():
    """The balance and the history of the wallet, with a filter by kind."""
    history, query = _history(request.args)
    order = WalletEntry.id.desc() if history.descending else WalletEntry.id.asc()
    entries = page_rows(history, query, (order,))
    return render(
        "wallet/index.html",
        "results",
        history=history,
        entries=entries,
        kinds=KINDS,
        kind_labels=KIND_LABELS,
        is_admin=current_membership().is_admin,
        **_state(current_scope().organisation_id),
    )


@bp.get("/export.csv")
def export_csv():
    """The filtered history as CSV (French spreadsheet or standard)."""
    dialect = requested_dialect()
    _unused, query = _history(request.args)
    columns = (
        WalletEntry.created_at,
        WalletEntry.kind,
        WalletEntry.amount,
        WalletEntry.balance_after,
        WalletEntry.reason,
        WalletEntry.reference,
    )
    rows = stream_rows(query.with_only_columns(*columns).order_by(WalletEntry.id.desc()))
    kinds = {kind: dialect.label(kind, KIND_LABELS) for kind in KIND_LABELS}
    values = (
        [
            dialect.day(at.date()),
            kinds.get(kind, kind),
            dialect.amount(amount),
            dialect.amount(after),
            reason,
            ref,
        ]
        for at, kind, amount, after, reason, ref in rows
    )
    header = dialect.header(CSV_COLUMNS)
    return csv_response(csv_text(header, values, dialect), "porte-monnaie")


@bp.get("/widget")
def widget():
    """Dashboard widget: the balance."""
    return render_template("wallet/widget.html", **_state(current_scope().organisation_id))
