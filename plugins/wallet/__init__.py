"""Built-in app "Votre porte-monnaie": the organisation's prepaid balance (used for
postage and other services) and its history. The balance is the core's wallet ledger
(``ledger`` in the plugin API), where money moves only through ``ledger.post``."""

from __future__ import annotations

from dataclasses import dataclass

import click
from flask import Blueprint, abort, current_app, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField

from core.plugin_api import (
    Account,
    App,
    Listing,
    MenuItem,
    Organisation,
    PaymentError,
    PaymentPurpose,
    PluginBlueprint,
    Widget,
    audit_record,
    csv_response,
    csv_text,
    current_scope,
    db,
    hookimpl,
    ledger,
    limiter,
    money,
    page_rows,
    parse_amount,
    payment_provider,
    plugin_defaults,
    read_listing,
    render,
    requested_dialect,
    scoped,
    stream_rows,
    utcnow,
)
from plugins.payments import public as payments

from . import topups

WalletEntry, KINDS = ledger.WalletEntry, ledger.KINDS
GUICHET_API = ">=1.0,<2"  # the plugin API range this plugin supports

APP_KEY = "wallet"
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
DEFAULTS = {
    # a standard letter (one page, black and white): the balance shows green from there
    "WALLET_LETTER_PRICE": 145,
    # the amounts offered on the top-up form, and the bounds of a custom one (cents)
    "WALLET_TOPUP_PRESETS": (2000, 5000, 10000, 20000),
    "WALLET_TOPUP_MIN": 1000,
    "WALLET_TOPUP_MAX": 500000,
    # the entry of a paid top-up, in the wallet's history
    "WALLET_TOPUP_REASON": "Rechargement du porte-monnaie",
}
bp = Blueprint("wallet", __name__, template_folder="templates")

plugin_defaults(bp, DEFAULTS)


@hookimpl
def guichet_apps():
    return [
        App(
            key=APP_KEY,
            name=_l("Your wallet"),
            endpoint="wallet.index",
            description=_l("Your prepaid balance for postage and services, and its history."),
            icon="wallet",
            section=_l("Payments"),
        )
    ]


@hookimpl
def guichet_blueprints():
    return [PluginBlueprint(bp, app_key=APP_KEY, url_prefix="/porte-monnaie")]


@hookimpl
def guichet_widgets():
    return [Widget("wallet.balance", APP_KEY, _l("Your balance"), "wallet.widget")]


@hookimpl
def guichet_menu_items(user, organisation):
    return [MenuItem(APP_KEY, _l("Payments"), _l("Your wallet"), "wallet.index", order=50)]


@hookimpl
def guichet_payment_purposes():
    return [
        PaymentPurpose(
            "topup",
            APP_KEY,
            on_paid=topups.credit,
            on_refund=topups.refund,
            on_refund_failed=topups.refund_failed,
            on_charged_back=topups.charged_back,
        )
    ]


@hookimpl
def guichet_cli(group):
    @group.group("wallet")
    def wallet_cli():
        """The organisations' prepaid wallets."""

    # a debit is a negative amount: "-92.95" is the amount, not an option
    @wallet_cli.command("adjust", context_settings={"ignore_unknown_options": True})
    @click.argument("org_id", type=int)
    @click.argument("amount")
    @click.option("--reason", required=True, help="Why (shown to the customer).")
    @click.option("--key", help="A unique key; the same key posted again changes nothing.")
    def adjust(org_id, amount, reason, key):
        """Credit (or, negative, debit) a wallet by an operator's adjustment."""
        if db.session.get(Organisation, org_id) is None:
            raise click.BadParameter(f"no organisation with id {org_id}", param_hint="ORG_ID")
        try:
            cents = parse_amount(amount)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="AMOUNT") from None
        key = key or f"adjust:{org_id}:{utcnow().isoformat()}"
        try:
            entry = ledger.post(org_id, "adjustment", cents, key, reason=reason)
            audit_record(
                "wallet.adjust",
                f"organisation:{org_id}",
                organisation_id=org_id,
                after={
                    "amount": cents,
                    "reason": reason,
                    "key": key,
                    "balance_after": entry.balance_after,
                },
            )
        except ledger.InsufficientFunds as error:
            db.session.rollback()
            raise click.ClickException(
                f"the balance ({error.balance / 100:.2f}) does not cover it"
            ) from None
        db.session.commit()
        click.echo(f"balance: {entry.balance_after / 100:.2f}")


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


class TopUpForm(FlaskForm):
    """The amount is a preset or a custom one within the operator's limits."""

    preset = RadioField(_l("Amount"), default="")
    other = StringField(_l("Other amount (€)"))
    method = RadioField(_l("Payment method"), default="", validate_choice=True)

    def __init__(self, presets, methods, **kwargs):
        super().__init__(**kwargs)
        self.preset.choices = [(str(c), money(c)) for c in presets] + [("", _l("Other amount"))]
        self.method.choices = [("", _l("Choose on the payment page"))] + [
            (m.id, m.label) for m in methods
        ]

    def amount(self) -> int | None:
        """The amount asked in cents, or ``None`` with the error set on the form."""
        config = current_app.config
        low, high = config["WALLET_TOPUP_MIN"], config["WALLET_TOPUP_MAX"]
        if self.preset.data:
            return int(self.preset.data)
        try:
            cents = parse_amount(self.other.data or "")
        except ValueError:
            self.other.errors.append(_("Enter an amount such as 50 or 75,50."))
            return None
        if not low <= cents <= high:
            self.other.errors.append(
                _(
                    "The amount must be between %(low)s and %(high)s.",
                    low=money(low),
                    high=money(high),
                )
            )
            return None
        return cents


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
    methods = provider.methods(
        presets[0] if presets else config["WALLET_TOPUP_MIN"], "EUR", payments.provider_locale()
    )
    form = TopUpForm(presets, methods)
    status = 200
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
                form.form_errors.append(
                    _("The payment service refused the payment: %(reason)s", reason=error.message)
                )
            else:
                return redirect(payments.checkout_target(payment), 303)
        status = 422
    elif form.is_submitted():
        status = 422
    return render_template(
        "wallet/topup.html",
        form=form,
        provider=provider,
        low=config["WALLET_TOPUP_MIN"],
        high=config["WALLET_TOPUP_MAX"],
        **_state(scope.organisation_id),
    ), status


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
