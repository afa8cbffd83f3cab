"""Mes dernières factures: the organisation's latest invoices, on the dashboard and on a
page of their own, with a setting per organisation.

An example of a third-party app that builds on another: it uses ``core.plugin_api``
and the invoices app's public module only, and declares ``requires=("invoices",)``,
so it is off wherever the invoices app is off. Its whole declaration is its manifest.
"""

from __future__ import annotations

from core.plugin_api import App, MenuItem, Widget, hookimpl
from core.plugin_api import lazy_gettext as _l
from plugins.invoices import public as invoices

from .forms import SettingsForm
from .views import bp

GUICHET_API = ">=3.0,<4"  # the versions of Guichet's plugin API this plugin supports

APP = App(
    key="latest_invoices",
    name=_l("My latest invoices"),
    endpoint="latest_invoices.index",
    description=_l("The latest invoices of your organisation, at a glance."),
    icon="invoice",
    section=_l("Contracts and invoices"),
    default_enabled=False,  # operators switch it on per organisation
    requires=(invoices.APP_KEY,),
    blueprint=bp,
    url_prefix="/dernieres-factures",
    widgets=(
        Widget(
            "latest_invoices.widget",
            title=_l("My latest invoices"),
            endpoint="latest_invoices.widget",
        ),
    ),
    menu=(MenuItem(order=25),),
    settings={"count": 5, "only_to_pay": False},
    settings_form=SettingsForm,
)


@hookimpl
def guichet_apps():
    return [APP]
