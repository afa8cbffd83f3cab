"""The tenancy rule in one place: the current organisation, the user's scope
("périmètre de consultation") and the helper that applies it to every query.

Plugins never filter tenant rows by hand::

    rows = db.session.scalars(scoped(Invoice).order_by(Invoice.date.desc()))
    invoice = get_scoped_or_404(Invoice, invoice_id)

An object outside the scope answers 404, never 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, g, session
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from core.extensions import db
from core.models import Account, AccountScopedMixin, Membership, Organisation, TenantMixin

ORG_KEY = "org_id"
SCOPE_KEY = "scope"


@dataclass(frozen=True)
class Scope:
    """What the user is looking at: an organisation and, when ``account_ids`` is not
    ``None``, only those of its accounts."""

    organisation_id: int
    account_ids: frozenset[int] | None = None

    def allows_account(self, account_id: int | None) -> bool:
        return self.account_ids is None or account_id in self.account_ids


def current_membership() -> Membership | None:
    """The membership of the logged-in user in the organisation it is working in
    (the one chosen in the session, else its first). Cached per request."""
    if "_membership" in g:
        return g._membership
    membership = None
    if current_user.is_authenticated:
        query = (
            select(Membership)
            .options(joinedload(Membership.organisation))
            .where(Membership.user_id == current_user.id)
        )
        wanted = session.get(ORG_KEY)
        if wanted is not None:
            membership = db.session.scalar(query.where(Membership.organisation_id == wanted))
        if membership is None:
            membership = db.session.scalar(query.order_by(Membership.id).limit(1))
            if membership is not None and wanted is not None:
                session.pop(SCOPE_KEY, None)
            session[ORG_KEY] = membership.organisation_id if membership else None
    g._membership = membership
    return membership


def current_organisation() -> Organisation | None:
    membership = current_membership()
    return membership.organisation if membership else None


def permitted_account_ids(membership: Membership) -> frozenset[int] | None:
    """Accounts a membership may see: ``None`` means all accounts of the organisation."""
    if "_permitted" not in g:
        ids = db.session.scalars(
            select(Account.id).join(Membership.accounts).where(Membership.id == membership.id)
        ).all()
        g._permitted = frozenset(ids) if ids else None
    return g._permitted


def current_scope() -> Scope:
    """The scope in force for this request; 404 when the user has no organisation."""
    if "_scope" in g:
        return g._scope
    membership = current_membership()
    if membership is None:
        abort(404)
    permitted = permitted_account_ids(membership)
    chosen = session.get(SCOPE_KEY)
    if chosen is not None:
        chosen = frozenset(chosen)
        if permitted is not None:
            chosen &= permitted
        chosen = chosen or permitted
    else:
        chosen = permitted
    g._scope = Scope(membership.organisation_id, chosen)
    return g._scope


def scoped(model: type, scope: Scope | None = None) -> Select:
    """``select(model)`` restricted to the scope: its organisation and, for rows that
    carry an account, the scope's accounts."""
    scope = scope or current_scope()
    if not issubclass(model, TenantMixin):
        raise TypeError(f"{model.__name__} does not belong to an organisation")
    query = select(model).where(model.organisation_id == scope.organisation_id)
    if scope.account_ids is not None:
        if issubclass(model, AccountScopedMixin):
            query = query.where(model.account_id.in_(scope.account_ids))
        elif model is Account:
            query = query.where(Account.id.in_(scope.account_ids))
    return query


def get_scoped_or_404(model: type, ident: int, scope: Scope | None = None):
    """The row with primary key ``ident`` if it is in the scope, else a 404."""
    row = db.session.scalar(scoped(model, scope).where(model.id == ident))
    if row is None:
        abort(404)
    return row


class ScopeError(ValueError):
    """The requested accounts are not all permitted to this user."""


def choose_scope(account_ids: list[int]) -> None:
    """Keep the accounts the user chose to look at; all of them when the list is empty."""
    membership = current_membership()
    if membership is None:
        abort(404)
    permitted = permitted_account_ids(membership)
    wanted = frozenset(account_ids)
    if permitted is None:
        known = db.session.scalars(
            select(Account.id).where(
                Account.organisation_id == membership.organisation_id, Account.id.in_(wanted)
            )
        ).all()
        outside = wanted - set(known)
    else:
        outside = wanted - permitted
    if outside:
        raise ScopeError(sorted(outside))
    session[SCOPE_KEY] = sorted(wanted) if wanted else None
    g.pop("_scope", None)


def choose_organisation(organisation_id: int) -> None:
    """Switch to another organisation of the user (404 if it is not one of them)."""
    exists = db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == current_user.id, Membership.organisation_id == organisation_id
        )
    )
    if exists is None:
        abort(404)
    session[ORG_KEY] = organisation_id
    session.pop(SCOPE_KEY, None)
    for key in ("_membership", "_permitted", "_scope"):
        g.pop(key, None)
