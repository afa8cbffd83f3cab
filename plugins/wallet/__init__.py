"""Built-in app "Votre porte-monnaie": the organisation's prepaid balance (used for
postage and other services) and its history. The balance is the core's wallet ledger
(``ledger`` in the plugin API), where money moves only through ``ledger.post``; a paid
top-up credits it through this app's ``topup`` payment purpose."""

from __future__ import annotations

from core.plugin_api import App, MenuItem, PaymentPurpose, Widget, hookimpl
from core.plugin_api import lazy_gettext as _l

from . import alerts, cli, topups
from .forms import WalletSettingsForm
from .public import APP_KEY
from .views import bp

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

APP = App(
    key=APP_KEY,
    name=_l("Your wallet"),
    endpoint="wallet.index",
    description=_l("Your prepaid balance for postage and services, and its history."),
    icon="wallet",
    section=_l("Payments"),
    blueprint=bp,
    url_prefix="/porte-monnaie",
    widgets=(Widget("wallet.balance", title=_l("Your balance"), endpoint="wallet.widget"),),
    menu=(MenuItem(order=50),),
    # the balance under which the admins are told by e-mail, in euros (0: never)
    settings={"low_balance": 0},
    settings_form=WalletSettingsForm,
    defaults={
        # a standard letter (one page, black and white): the balance shows green from there
        "WALLET_LETTER_PRICE": 145,
        # the amounts offered on the top-up form, and the bounds of a custom one (cents)
        "WALLET_TOPUP_PRESETS": (2000, 5000, 10000, 20000),
        "WALLET_TOPUP_MIN": 1000,
        "WALLET_TOPUP_MAX": 500000,
        # the entry of a paid top-up, in the wallet's history
        "WALLET_TOPUP_REASON": "Rechargement du porte-monnaie",
    },
)


@hookimpl
def guichet_apps():
    return [APP]


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
    cli.add_commands(group)


@hookimpl
def guichet_event(name, payload):
    """A debit that takes the balance below the organisation's threshold: an e-mail."""
    if name == "wallet.posted":
        alerts.note(payload)
