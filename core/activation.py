"""Which apps an organisation has enabled, and switching them (with an audit event)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from sqlalchemy import bindparam, func, literal, select, union_all

from core import audit, stamps
from core.appsystem import registry
from core.extensions import db
from core.models import AppActivation, AppDefault, Organisation


class UnknownApp(LookupError):
    """No installed plugin provides this app key."""


def app_defaults() -> dict[str, bool]:
    """Every installed app's default for new organisations (operator's choice first)."""
    chosen = dict(db.session.execute(select(AppDefault.app_key, AppDefault.enabled)).all())
    return {
        key: chosen.get(key, entry.app.default_enabled)
        for key, entry in registry(current_app).apps.items()
    }


# The organisation's own choices (rank 1) and the operator's defaults (rank 0), in one
# query built once: every page and every event asks it.
_ACTIVATIONS = union_all(
    select(AppActivation.app_key, AppActivation.enabled, literal(1)).where(
        AppActivation.organisation_id == bindparam("organisation_id")
    ),
    select(AppDefault.app_key, AppDefault.enabled, literal(0)),
)


def enabled_app_keys(organisation_id: int) -> frozenset[str]:
    """The installed apps enabled for an organisation, kept by the process until its
    apps stamp changes (:mod:`core.stamps`): no query when the organisation is already
    loaded, as the user's is on every page. An app installed after the organisation
    was created follows its default."""
    cache = g.setdefault("_enabled_apps", {})
    if organisation_id not in cache:
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is None:
            return _read_enabled(organisation_id)
        cache[organisation_id] = stamps.remembered(
            "enabled_apps",
            (organisation_id, organisation.apps_stamp),
            lambda: _read_enabled(organisation_id),
        )
    return cache[organisation_id]


def _read_enabled(organisation_id: int) -> frozenset[str]:
    state: dict[str, tuple[int, bool]] = {}
    rows = db.session.execute(_ACTIVATIONS, {"organisation_id": organisation_id})
    for key, enabled, rank in rows:
        if key not in state or rank > state[key][0]:
            state[key] = (rank, enabled)
    return frozenset(
        key
        for key, entry in registry(current_app).apps.items()
        if state.get(key, (0, entry.app.default_enabled))[1]
    )


def organisations_using(key: str) -> list[int]:
    """The organisations an app is enabled for, with every app it requires, in one
    query: what a periodic task of the app goes through (10,000 organisations: one
    statement, not one per organisation)."""
    apps, defaults = registry(current_app).apps, app_defaults()
    needed, todo = set(), [key]
    while todo:
        current = todo.pop()
        require_app(current)
        if current not in needed:
            needed.add(current)
            todo.extend(apps[current].app.requires)
    query = select(Organisation.id).order_by(Organisation.id)
    for each in sorted(needed):
        chosen = (
            select(AppActivation.enabled)
            .where(AppActivation.organisation_id == Organisation.id, AppActivation.app_key == each)
            .scalar_subquery()
        )
        query = query.where(func.coalesce(chosen, literal(defaults[each])))
    return list(db.session.scalars(query))


def usable_app_keys(
    organisation_id: int, admin: bool = True, limit: frozenset[str] | None = None
) -> frozenset[str]:
    """The apps of an organisation that may be used: enabled, allowed to the role
    (apps with the ``admin`` permission only when ``admin``) and, with ``limit``, among
    those an admin lets the member use; and so are the apps each requires (cached per
    request)."""
    cache = g.setdefault("_usable_apps", {})
    key = (organisation_id, admin, limit)
    if key not in cache:
        apps = registry(current_app).apps
        usable = {
            k
            for k in enabled_app_keys(organisation_id)
            if (admin or "admin" not in apps[k].app.permissions) and (limit is None or k in limit)
        }
        while missing := {k for k in usable if not set(apps[k].app.requires) <= usable}:
            usable -= missing  # and what requires them, in the next round
        cache[key] = frozenset(usable)
    return cache[key]


def require_app(key: str) -> None:
    if key not in registry(current_app).apps:
        raise UnknownApp(key)


def set_app_enabled(organisation: Organisation, key: str, enabled: bool) -> bool:
    """Switch an app for an organisation; returns whether anything changed."""
    require_app(key)
    was = key in enabled_app_keys(organisation.id)
    row = db.session.get(AppActivation, (organisation.id, key))
    if row is None:
        row = AppActivation(organisation_id=organisation.id, app_key=key, settings={})
        db.session.add(row)
    row.enabled = enabled
    db.session.flush()  # a new apps stamp: what follows in this request sees the switch
    g.pop("_enabled_apps", None)
    g.pop("_usable_apps", None)
    if was == enabled:
        return False
    audit.record(
        "app.enable" if enabled else "app.disable",
        f"app:{key}",
        organisation_id=organisation.id,
        before={"enabled": was},
        after={"enabled": enabled},
    )
    return True


def set_app_default(key: str, enabled: bool) -> None:
    """Choose whether an app starts enabled for organisations created from now on."""
    require_app(key)
    before = app_defaults()[key]
    row = db.session.get(AppDefault, key) or AppDefault(app_key=key)
    row.enabled = enabled
    db.session.add(row)
    if before != enabled:
        audit.record(
            "app.default", f"app:{key}", before={"enabled": before}, after={"enabled": enabled}
        )


def materialise_defaults(organisation: Organisation) -> None:
    """Write one activation row per installed app for a new organisation, so later
    changes of the defaults do not reach it."""
    for key, enabled in app_defaults().items():
        db.session.add(
            AppActivation(
                organisation_id=organisation.id, app_key=key, enabled=enabled, settings={}
            )
        )


class SettingError(ValueError):
    """A per-organisation setting the app does not declare, or of the wrong type."""


def app_settings(organisation_id: int, key: str) -> dict[str, Any]:
    """An app's per-organisation settings: the defaults it declares (``App.settings``)
    updated with what the organisation chose (one primary-key read)."""
    require_app(key)
    row = db.session.get(AppActivation, (organisation_id, key))
    declared = registry(current_app).apps[key].app.settings
    chosen = (row.settings if row is not None else None) or {}
    return {**declared, **{k: v for k, v in chosen.items() if k in declared}}


def update_app_settings(organisation: Organisation, key: str, values: dict[str, Any]) -> None:
    """Change some of an app's settings for an organisation (audited; the caller
    commits). Each name must be declared in ``App.settings`` and each value of its
    default's type, else :class:`SettingError` and nothing changes."""
    require_app(key)
    declared = registry(current_app).apps[key].app.settings
    for name, value in values.items():
        if name not in declared:
            raise SettingError(f"app {key} declares no setting {name!r}")
        default = declared[name]
        if default is not None and not isinstance(value, type(default)):
            raise SettingError(
                f"setting {name!r} of app {key} takes a {type(default).__name__}, "
                f"not {type(value).__name__}"
            )
    before = app_settings(organisation.id, key)
    row = db.session.get(AppActivation, (organisation.id, key))
    if row is None:
        row = AppActivation(
            organisation_id=organisation.id,
            app_key=key,
            enabled=key in enabled_app_keys(organisation.id),
            settings={},
        )
        db.session.add(row)
    row.settings = {**(row.settings or {}), **values}  # a new dict: JSON columns see it
    after = app_settings(organisation.id, key)
    if before != after:
        audit.record(
            "app.settings",
            f"app:{key}",
            organisation_id=organisation.id,
            before=before,
            after=after,
        )
