"""Built-in app "Relevé de compte": the statement of account of the accounts in scope
for a period (opening balance, invoices, credit notes, payments, closing balance, and
the ageing of what is open), on screen, as CSV and as PDF, and the dashboard widget
"À payer". It reads invoices through the invoices app's public module and is usable
only where that app is (``requires``)."""

from __future__ import annotations

from core.plugin_api import App, MenuItem, Widget, hookimpl
from core.plugin_api import lazy_gettext as _l

from .views import bp

GUICHET_API = ">=3.0,<4"
APP_KEY = "statement"

APP = App(
    key=APP_KEY,
    name=_l("Your statement of account"),
    endpoint="statement.index",
    description=_l("What you owe, what you paid, and what is late, for any period."),
    icon="invoice",
    section=_l("Contracts and invoices"),
    requires=("invoices",),
    blueprint=bp,
    url_prefix="/releve",
    widgets=(Widget("statement.to_pay", title=_l("To pay"), endpoint="statement.widget"),),
    menu=(MenuItem(order=22),),
    activity={"download.statement": _l("Statement downloaded")},
    defaults={"STATEMENT_PDF_LINES": 2000},
)


@hookimpl
def guichet_apps():
    return [APP]
