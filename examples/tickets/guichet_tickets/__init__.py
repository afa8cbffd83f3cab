"""Guichet Tickets ("Mes demandes"): customers send requests to their provider and
follow them; operators answer from the back-office, and the customer gets an e-mail.

An example of a third-party Guichet app, written only against ``core.plugin_api``.
Each hook below is one thing the app adds to the portal; the plugin guide's tutorial
walks through them.
"""

from __future__ import annotations

from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_

from core.plugin_api import (
    App,
    MenuItem,
    MigrationLocation,
    OperatorPage,
    PluginBlueprint,
    SearchResult,
    Widget,
    current_membership,
    db,
    hookimpl,
    scoped,
)

from .models import Ticket

GUICHET_API = ">=1.0,<2"  # the versions of Guichet's plugin API this plugin supports
APP_KEY = "tickets"


@hookimpl
def guichet_apps():
    return [
        App(
            key=APP_KEY,
            name=_l("My requests"),
            endpoint="tickets.index",
            description=_l("Ask your provider a question and follow the answer."),
            icon="help",
            section=_l("Help"),
            default_enabled=False,  # operators switch it on per organisation
            # per-organisation settings, changed by the organisation's admins
            settings={"categories": [], "members_see_all": False},
        )
    ]


@hookimpl
def guichet_blueprints():
    from .desk import desk
    from .views import bp

    return [
        PluginBlueprint(bp, app_key=APP_KEY, url_prefix="/demandes"),
        PluginBlueprint(desk, app_key=None, url_prefix="/operator/demandes", operators=True),
    ]


@hookimpl
def guichet_widgets():
    return [Widget("tickets.open", APP_KEY, _l("My requests"), "tickets.widget")]


@hookimpl
def guichet_menu_items(user, organisation):
    return [MenuItem(APP_KEY, _l("Help"), _l("My requests"), "tickets.index")]


@hookimpl
def guichet_operator_pages():
    return [OperatorPage(_l("Customer requests"), "tickets_desk.index")]


@hookimpl
def guichet_search(query, scope):
    from .views import visible

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


@hookimpl
def guichet_migrations():
    return MigrationLocation(
        APP_KEY, Path(__file__).parent / "migrations", version_table="alembic_version_tickets"
    )
