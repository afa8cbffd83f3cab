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


def user_memberships() -> list[Membership]:
    """Every membership of the logged-in user, by organisation name, but those an
    admin suspended (loaded with the user, see ``core.auth.load_user``)."""
    if not current_user.is_authenticated:
        return []
    return sorted(
        (m for m in current_user.memberships if m.suspended_at is None),
        key=lambda m: (m.organisation.name, m.id),
    )


def current_membership() -> Membership | None:
    """The membership of the logged-in user in the organisation it is working in
    (the one chosen in the session, else its first)."""
    memberships = user_memberships()
    wanted = session.get(ORG_KEY)
    for membership in memberships:
        if membership.organisation_id == wanted:
            return membership
    if not memberships:
        return None
    if wanted is not None:  # no longer a member there: start afresh
        session.pop(SCOPE_KEY, None)
    session[ORG_KEY] = memberships[0].organisation_id
    return memberships[0]


def current_organisation() -> Organisation | None:
    membership = current_membership()
    return membership.organisation if membership else None


def permitted_account_ids(membership: Membership) -> frozenset[int] | None:
    """Accounts a membership may see: ``None`` means all accounts of the organisation."""
    return frozenset(a.id for a in membership.accounts) or None


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
    if not any(m.organisation_id == organisation_id for m in user_memberships()):
        abort(404)
    session[ORG_KEY] = organisation_id
    session.pop(SCOPE_KEY, None)
    g.pop("_scope", None)
