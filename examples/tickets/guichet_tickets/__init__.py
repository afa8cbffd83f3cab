"""Guichet Tickets ("Mes demandes"): customers send requests to their provider and
follow them; operators answer from the back-office, and the customer gets an e-mail.

An example of a third-party Guichet app, written only against ``core.plugin_api``.
The app is declared once, in its manifest (``APP``): its pages, widget, menu entry and
settings; each hook below adds one more thing to the portal. The plugin guide's
tutorial walks through them.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import or_

from core.plugin_api import (
    App,
    MenuItem,
    OperatorPage,
    PluginBlueprint,
    SearchResult,
    Widget,
    current_membership,
    db,
    hookimpl,
    scoped,
)
from core.plugin_api import lazy_gettext as _l

from .desk import desk
from .forms import SettingsForm
from .models import Ticket
from .views import bp, visible

GUICHET_API = ">=3.0,<4"  # the versions of Guichet's plugin API this plugin supports
APP_KEY = "tickets"


APP = App(
    key=APP_KEY,
    name=_l("My requests"),
    endpoint="tickets.index",
    description=_l("Ask your provider a question and follow the answer."),
    icon="help",
    section=_l("Help"),
    default_enabled=False,  # operators switch it on per organisation
    blueprint=bp,
    url_prefix="/demandes",
    widgets=(Widget("tickets.open", title=_l("My requests"), endpoint="tickets.widget"),),
    menu=(MenuItem(),),
    # the words of what it records in the customers' activity trail (record_activity)
    activity={"ticket.opened": _l("Request sent")},
    # per-organisation settings, changed by the organisation's admins with this form
    settings={"categories": [], "members_see_all": False},
    settings_form=SettingsForm,
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_blueprints():
    return [PluginBlueprint(desk, app_key=None, url_prefix="/operator/demandes", operators=True)]


@hookimpl
def guichet_operator_pages():
    return [OperatorPage(_l("Customer requests"), "tickets_desk.index")]


@hookimpl
def guichet_search(query, scope):
    matches = Ticket.subject.ilike(f"%{query}%")
    number = query.removeprefix("#")
    if number.isdigit() and len(number) < 10:  # "#12" or "12": that request too
        matches = or_(matches, Ticket.id == int(number))
    found = visible(scoped(Ticket, scope), current_membership()).where(matches)
    rows = db.session.scalars(found.order_by(Ticket.updated_at.desc()).limit(5))
    return [
        SearchResult(APP_KEY, f"#{t.id} {t.subject}", url_for("tickets.detail", ticket_id=t.id))
        for t in rows
    ]
