"""Favourites (app shortcuts in the favourites bar) and pins (widgets on the dashboard)
of one user in one organisation, always filtered by the apps the organisation has on:
a disabled app's favourites and pins vanish, and come back when it is enabled again."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy import delete, func, select

from core import audit, stamps
from core.activation import usable_app_keys
from core.appinfo import App, Widget
from core.appsystem import registry
from core.extensions import db
from core.i18n import gettext as _
from core.models import Favourite, Membership, Pin
from core.tenancy import current_membership

SENSIBLE_FAVOURITES = 5
SENSIBLE_PINS = 4


class DashboardError(ValueError):
    """A favourite or pin change that cannot be done; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def usable_apps(membership: Membership) -> dict[str, App]:
    """Apps this member may use now (:func:`core.activation.usable_app_keys`), by key;
    built once per request."""
    keys = usable_app_keys(membership.organisation_id, membership.is_admin, membership.app_limit)
    cache = g.setdefault("_usable_app_dicts", {})
    if keys not in cache:
        apps = registry(current_app).apps
        cache[keys] = {k: apps[k].app for k in keys}
    return cache[keys]


def app_usable(key: str) -> bool:
    """Whether the current member may use app ``key`` in this organisation (see
    :func:`usable_apps`): an app that shows another app's data (an invoice's number
    in a payment) asks before showing it, and answers 404 when it may not."""
    membership = current_membership()
    return membership is not None and key in usable_apps(membership)


def widgets_of(apps: dict[str, App]) -> dict[str, Widget]:
    return {k: w for k, w in registry(current_app).widgets.items() if w.app_key in apps}


def _owned(model, membership: Membership):
    return select(model).where(
        model.user_id == membership.user_id, model.organisation_id == membership.organisation_id
    )


def favourites(membership: Membership) -> list[App]:
    """The favourites bar, in the user's order: kept by the process until the member's
    favourites stamp changes (:mod:`core.stamps`), so no query on most pages."""
    apps = usable_apps(membership)
    keys = stamps.remembered(
        "favourites",
        (membership.user_id, membership.organisation_id, membership.favourites_stamp),
        lambda: tuple(
            db.session.scalars(
                _owned(Favourite, membership)
                .with_only_columns(Favourite.app_key)
                .order_by(Favourite.position, Favourite.id)
            )
        ),
    )
    return [apps[key] for key in keys if key in apps]


def pinned_widgets(membership: Membership) -> list[Widget]:
    """The dashboard's widgets, in the user's order (one query)."""
    widgets = widgets_of(usable_apps(membership))
    rows = db.session.scalars(_owned(Pin, membership).order_by(Pin.position, Pin.id))
    return [widgets[row.widget_key] for row in rows if row.widget_key in widgets]


def usable_app(membership: Membership, app_key: str) -> App:
    app = usable_apps(membership).get(app_key)
    if app is None:
        raise DashboardError(_("Unknown app %(key)s.", key=app_key), 404)
    return app


def usable_widget(membership: Membership, widget_key: str) -> Widget:
    widget = widgets_of(usable_apps(membership)).get(widget_key)
    if widget is None:
        raise DashboardError(_("Unknown widget %(key)s.", key=widget_key), 404)
    return widget


def _next_position(model, membership: Membership) -> int:
    query = _owned(model, membership).with_only_columns(func.coalesce(func.max(model.position), -1))
    return db.session.scalar(query) + 1


def _toggle(model, membership: Membership, on: bool, key_column, key: str, messages, **fields):
    """Add a row at the end of the user's list, or remove it; refuse a duplicate (409)
    or the removal of what is not there (409) with ``messages`` (already, missing)."""
    row = db.session.scalar(_owned(model, membership).where(key_column == key))
    if on and row is not None:
        raise DashboardError(messages[0], 409)
    if not on and row is None:
        raise DashboardError(messages[1], 409)
    if on:
        db.session.add(
            model(
                user_id=membership.user_id,
                organisation_id=membership.organisation_id,
                position=_next_position(model, membership),
                **fields,
            )
        )
    else:
        db.session.delete(row)
    db.session.flush()  # a new favourites stamp: the bar of this answer shows the change


def set_favourite(membership: Membership, app_key: str, on: bool) -> None:
    """Add an app to the favourites bar (at the end) or take it out."""
    usable_app(membership, app_key)
    messages = (
        _("This app is already in your favourites."),
        _("This app is not in your favourites."),
    )
    _toggle(Favourite, membership, on, Favourite.app_key, app_key, messages, app_key=app_key)


def set_pin(membership: Membership, widget_key: str, on: bool) -> None:
    """Pin a widget on the dashboard (at the end) or unpin it."""
    widget = usable_widget(membership, widget_key)
    messages = (
        _("This widget is already on your dashboard."),
        _("This widget is not on your dashboard."),
    )
    _toggle(
        Pin,
        membership,
        on,
        Pin.widget_key,
        widget_key,
        messages,
        app_key=widget.app_key,
        widget_key=widget_key,
    )


def reorder_pins(membership: Membership, widget_keys: list[str]) -> None:
    """Save the dashboard's order: ``widget_keys`` must name each visible pin once."""
    visible = [w.key for w in pinned_widgets(membership)]
    if sorted(widget_keys) != sorted(visible) or len(set(widget_keys)) != len(widget_keys):
        raise DashboardError(_("The new order must name each widget of your dashboard once."))
    rows = {r.widget_key: r for r in db.session.scalars(_owned(Pin, membership))}
    for position, key in enumerate(widget_keys):
        rows[key].position = position


def move_pin(membership: Membership, widget_key: str, step: int) -> None:
    """Move a pinned widget one place earlier (``step=-1``) or later (``step=1``)."""
    order = [w.key for w in pinned_widgets(membership)]
    if widget_key not in order:
        raise DashboardError(_("This widget is not on your dashboard."), 404)
    index = order.index(widget_key)
    target = min(max(index + step, 0), len(order) - 1)
    order.insert(target, order.pop(index))
    reorder_pins(membership, order)


def default_dashboard(membership: Membership) -> tuple[list[str], list[str]]:
    """The favourites and pins a new member starts with: the operator's choice for the
    organisation, else the first usable apps and one widget of each of the first apps."""
    apps = usable_apps(membership)
    widgets = widgets_of(apps)
    chosen = membership.organisation.dashboard_defaults
    if chosen is not None:
        return (
            [k for k in chosen.get("favourites", []) if k in apps],
            [k for k in chosen.get("pins", []) if k in widgets],
        )
    ordered = sorted(apps.values(), key=lambda a: str(a.name))
    first_widget: dict[str, str] = {}
    for widget in widgets.values():
        first_widget.setdefault(widget.app_key, widget.key)
    pins = [first_widget[a.key] for a in ordered if a.key in first_widget][:SENSIBLE_PINS]
    return [a.key for a in ordered[:SENSIBLE_FAVOURITES]], pins


def seed_dashboard(membership: Membership) -> None:
    """Give a new member the organisation's default dashboard (replacing anything)."""
    favourites_keys, pin_keys = default_dashboard(membership)
    for model in (Favourite, Pin):
        db.session.execute(
            delete(model).where(
                model.user_id == membership.user_id,
                model.organisation_id == membership.organisation_id,
            )
        )
    stamps.favourites_changed([(membership.user_id, membership.organisation_id)])
    widgets = registry(current_app).widgets
    for position, key in enumerate(favourites_keys):
        db.session.add(
            Favourite(
                user_id=membership.user_id,
                organisation_id=membership.organisation_id,
                app_key=key,
                position=position,
            )
        )
    for position, key in enumerate(pin_keys):
        db.session.add(
            Pin(
                user_id=membership.user_id,
                organisation_id=membership.organisation_id,
                app_key=widgets[key].app_key,
                widget_key=key,
                position=position,
            )
        )


def set_dashboard_defaults(organisation, favourite_keys: list[str], pin_keys: list[str]) -> None:
    """The operator's default dashboard for the organisation's new members."""
    reg = registry(current_app)
    unknown = [k for k in favourite_keys if k not in reg.apps]
    unknown += [k for k in pin_keys if k not in reg.widgets]
    if unknown:
        raise DashboardError(_("Unknown app or widget: %(keys)s.", keys=", ".join(unknown)))
    before = organisation.dashboard_defaults
    organisation.dashboard_defaults = {"favourites": favourite_keys, "pins": pin_keys}
    audit.record(
        "organisation.dashboard",
        f"organisation:{organisation.id}",
        organisation_id=organisation.id,
        before=before,
        after=organisation.dashboard_defaults,
    )
