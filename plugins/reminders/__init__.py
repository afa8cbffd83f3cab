"""Built-in app "Relances": reminders of invoices to pay, by e-mail, on a schedule the
operators set per organisation (by default a week before the due date, the day after,
and a fortnight after to the organisation's admins). Each carries the invoice's
payment link; none goes for an invoice paid, credited or held by another app (a
dispute: ``guichet_collection_holds``), and none twice. The customer sees those sent,
on each invoice too; the operators see what is overdue where."""

from __future__ import annotations

from flask import url_for
from huey import crontab
from sqlalchemy import func, select

from core.plugin_api import (
    Action,
    App,
    OperatorPage,
    PeriodicTask,
    PluginBlueprint,
    db,
    hookimpl,
)
from core.plugin_api import lazy_gettext as _l
from plugins.invoices.public import Invoice

from . import cli, sending
from .models import Reminder
from .schedule import DEFAULT
from .views import bp, desk

GUICHET_API = ">=3.0,<4"
APP_KEY = sending.APP_KEY

APP = App(
    key=APP_KEY,
    name=_l("Payment reminders"),
    endpoint="reminders.index",
    description=_l("The reminders of your invoices to pay, sent before and after their due date."),
    icon="mail",
    section=_l("Contracts and invoices"),
    requires=("invoices",),
    default_enabled=False,  # an operator switches reminders on for an organisation
    blueprint=bp,
    url_prefix="/relances",
    menu=(),
    settings={"steps": DEFAULT},
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_blueprints():
    return [PluginBlueprint(desk, app_key=None, url_prefix="/operator/relances", operators=True)]


@hookimpl
def guichet_operator_pages():
    return [OperatorPage(_l("Reminders"), "reminders_desk.overview", order=65)]


@hookimpl
def guichet_periodic_tasks():
    """Every morning the day's reminders; every ten minutes, the stuck ones."""
    return [
        PeriodicTask("reminders.daily", crontab(hour="7", minute="0"), sending.run),
        PeriodicTask("reminders.sweep", crontab(minute="*/10"), sending.sweep),
    ]


@hookimpl
def guichet_actions(target):
    """On an invoice's page, the reminders sent of it, where there are any."""
    if not isinstance(target, Invoice):
        return []
    count = db.session.scalar(
        select(func.count()).select_from(Reminder).where(Reminder.invoice_id == target.id)
    )
    if not count:
        return []
    url = url_for("reminders.index", invoice=target.id)
    return [Action(APP_KEY, _l("Reminders sent (%(count)d)", count=count), url, order=40)]


@hookimpl
def guichet_cli(group):
    cli.add_commands(group)
