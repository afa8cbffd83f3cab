"""Stamps on what every page reads and rarely changes: an organisation's app switches
(``organisations.apps_stamp``) and a member's favourites (``memberships.favourites_stamp``).
The stamps come with the user's query; each process keeps what it read under the
stamp (:func:`remembered`), so a page reads neither table again until they change.

A flush that adds, changes or deletes an ``AppActivation``, ``AppDefault`` or
``Favourite`` gives the rows concerned a new stamp, whoever wrote them. A bulk
statement (``insert()``, ``update()``, ``delete()`` on those tables) passes by the
session: call :func:`apps_changed` or :func:`favourites_changed` after one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from flask import current_app
from sqlalchemy import event, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from core.extensions import db
from core.models import AppActivation, AppDefault, Favourite, Membership, Organisation, new_stamp

T = TypeVar("T")

# Entries one process keeps per kind before it starts again: enough for every member
# of a large installation, small beside a worker's memory.
MAX_ENTRIES = 50_000


def remembered(kind: str, key: tuple, read: Callable[[], T]) -> T:
    """``read()``, kept in this process under ``(kind, key)`` for the current app;
    ``key`` must hold the stamp the value depends on."""
    caches = current_app.extensions.setdefault("guichet.stamped", {})
    cache = caches.setdefault(kind, {})
    if key in cache:
        return cache[key]
    if len(cache) >= MAX_ENTRIES:
        cache.clear()  # stamps that changed leave their entries behind: start again
    value = cache[key] = read()
    return value


def apps_changed(organisation_ids: Iterable[int] | None = None, session: Session | None = None):
    """New apps stamps for ``organisation_ids`` (every organisation with ``None``: the
    operator's defaults reach all of them)."""
    session = session or db.session
    stamp = new_stamp()
    statement = update(Organisation).values(apps_stamp=stamp)
    ids = None if organisation_ids is None else set(organisation_ids)
    if ids is not None:
        statement = statement.where(Organisation.id.in_(ids))
    session.connection().execute(statement)
    for row in list(session.identity_map.values()) if ids is None else _loaded(session, ids):
        if isinstance(row, Organisation):
            set_committed_value(row, "apps_stamp", stamp)


def favourites_changed(members: Iterable[tuple[int, int]], session: Session | None = None):
    """New favourites stamps for ``members``, pairs of (user id, organisation id)."""
    session = session or db.session
    members = set(members)
    stamp = new_stamp()
    session.connection().execute(
        update(Membership)
        .where(tuple_(Membership.user_id, Membership.organisation_id).in_(members))
        .values(favourites_stamp=stamp)
    )
    for row in session.identity_map.values():
        if isinstance(row, Membership) and (row.user_id, row.organisation_id) in members:
            set_committed_value(row, "favourites_stamp", stamp)


def _loaded(session: Session, ids: set[int]):
    for ident in ids:
        row = session.identity_map.get(identity_key(Organisation, ident))
        if row is not None:
            yield row


@event.listens_for(Session, "before_flush")
def _restamp(session: Session, _context, _instances) -> None:
    """New stamps for what this flush changes of app switches, defaults, favourites."""
    organisations: set[int] = set()
    members: set[tuple[int, int]] = set()
    every = False
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, AppActivation) and row.organisation_id is not None:
            organisations.add(row.organisation_id)
        elif isinstance(row, AppDefault):
            every = True
        elif isinstance(row, Favourite):
            members.add((row.user_id, row.organisation_id))
    if every or organisations:
        apps_changed(None if every else organisations, session)
    if members:
        favourites_changed(members, session)
