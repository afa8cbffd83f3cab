"""Organisations, accounts, users and memberships: the operations shared by the
operator back-office, the CLI and the demo. Each change writes an audit event;
callers commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import email_validator
from sqlalchemy import func, select

from core import audit
from core.activation import materialise_defaults
from core.extensions import db
from core.favourites import seed_dashboard
from core.i18n import gettext as _
from core.models import Account, Membership, Organisation, User, utcnow
from core.passwords import MIN_LENGTH, set_password

ORG_FIELDS = ("name", "siret", "vat_number", "address", "locale", "require_2fa")
ACCOUNT_FIELDS = ("client_code", "name", "parent_id")
USER_FIELDS = ("email", "name", "locale", "is_operator", "active")


class DirectoryError(ValueError):
    """A change that breaks a rule; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def create_organisation(**values: Any) -> Organisation:
    _check_unique(Organisation, "siret", values.get("siret"))
    org = Organisation(**{k: values.get(k) for k in ORG_FIELDS if values.get(k) is not None})
    db.session.add(org)
    db.session.flush()
    materialise_defaults(org)
    audit.record(
        "organisation.create",
        f"organisation:{org.id}",
        organisation_id=org.id,
        after=audit.snapshot(org, ORG_FIELDS),
    )
    return org


def update_organisation(org: Organisation, **values: Any) -> None:
    _check_unique(Organisation, "siret", values.get("siret"), exclude=org.id)
    _update(org, ORG_FIELDS, values, "organisation.update", f"organisation:{org.id}", org.id)


def create_account(org: Organisation, **values: Any) -> Account:
    _check_unique(Account, "client_code", values.get("client_code"))
    _check_parent(org, values.get("parent_id"))
    account = Account(organisation_id=org.id, **{k: values.get(k) for k in ACCOUNT_FIELDS})
    account.name = account.name or ""
    db.session.add(account)
    db.session.flush()
    audit.record(
        "account.create",
        f"account:{account.id}",
        organisation_id=org.id,
        after=audit.snapshot(account, ACCOUNT_FIELDS),
    )
    return account


def update_account(account: Account, **values: Any) -> None:
    _check_unique(Account, "client_code", values.get("client_code"), exclude=account.id)
    _check_parent(account.organisation, values.get("parent_id"), account.id)
    _update(
        account,
        ACCOUNT_FIELDS,
        values,
        "account.update",
        f"account:{account.id}",
        account.organisation_id,
    )


def create_user(email: str, password: str | None = None, **values: Any) -> User:
    email = valid_email(email)
    _check_unique(User, "email", email)
    if password is not None:
        _check_password(password)
    user = User(email=email, **{k: v for k, v in values.items() if k in USER_FIELDS})
    if password:
        set_password(user, password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", f"user:{user.id}", after=audit.snapshot(user, USER_FIELDS))
    return user


def change_password(user: User, password: str) -> None:
    """An operator sets a user's password: every session of the user ends."""
    _check_password(password)
    set_password(user, password)
    audit.record("user.password", f"user:{user.id}")


def update_user(user: User, **values: Any) -> None:
    if "email" in values:
        values["email"] = valid_email(values["email"])
        _check_unique(User, "email", values["email"], exclude=user.id)
    _update(user, USER_FIELDS, values, "user.update", f"user:{user.id}", None)


def set_membership(
    user: User, org: Organisation, role: str, account_ids: list[int] | None = None
) -> Membership:
    """Give ``user`` a role in ``org``, restricted to ``account_ids`` when given."""
    if role not in Membership.ROLES:
        raise DirectoryError("role", _("Unknown role %(role)s.", role=role))
    accounts = []
    if account_ids:
        accounts = db.session.scalars(
            select(Account).where(Account.id.in_(account_ids), Account.organisation_id == org.id)
        ).all()
        if len(accounts) != len(set(account_ids)):
            raise DirectoryError("accounts", _("Some accounts do not belong to this organisation."))
    membership = db.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == org.id
        )
    )
    before = _membership_state(membership) if membership else None
    new = membership is None
    if new:
        membership = Membership(user=user, organisation=org)
        db.session.add(membership)
    membership.role = role
    membership.accounts = list(accounts)
    if new:
        db.session.flush()
        seed_dashboard(membership)
    after = _membership_state(membership)
    if before != after:
        audit.record(
            "membership.set", user.email, organisation_id=org.id, before=before, after=after
        )
    return membership


def organisation_names(ids: Iterable[int]) -> dict[int, str]:
    """The names of these organisations, by id, in one query (a back-office list
    showing each row's organisation)."""
    ids = set(ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
    )
    return dict(rows.all())


def remove_membership(membership: Membership) -> None:
    audit.record(
        "membership.remove",
        membership.user.email,
        organisation_id=membership.organisation_id,
        before=_membership_state(membership),
    )
    db.session.delete(membership)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> str:
    """``email`` normalised, when it is an address the login form accepts (the same
    check as its ``Email`` validator); :class:`DirectoryError` otherwise, so that no
    account is created that could never log in."""
    email = normalise_email(email)
    try:
        email_validator.validate_email(email, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        raise DirectoryError(
            "email",
            _(
                "%(email)s is not a valid e-mail address: %(reason)s",
                email=email,
                reason=str(error),
            ),
        ) from None
    return email


def _membership_state(membership: Membership) -> dict[str, Any]:
    return {
        "role": membership.role,
        "accounts": sorted(a.client_code for a in membership.accounts),
        "apps": None if membership.apps is None else sorted(membership.apps),
        "suspended": membership.suspended_at is not None,
    }


def set_member_access(
    membership: Membership, apps: list[str] | None, suspended: bool | None = None
) -> None:
    """Limit a member to ``apps`` (``None``: every app) and, when ``suspended`` is
    given, suspend or resume them; recorded in the audit log when anything changed."""
    before = _membership_state(membership)
    membership.apps = None if apps is None else sorted(set(apps))
    if suspended is not None and suspended != (membership.suspended_at is not None):
        membership.suspended_at = utcnow() if suspended else None
    after = _membership_state(membership)
    if before != after:
        audit.record(
            "membership.access",
            membership.user.email,
            organisation_id=membership.organisation_id,
            before=before,
            after=after,
        )


def _update(obj, fields, values, action, target, organisation_id) -> None:
    before = audit.snapshot(obj, fields)
    for key in fields:
        if key in values:
            setattr(obj, key, values[key])
    after = audit.snapshot(obj, fields)
    if before != after:
        changed = [k for k in fields if before[k] != after[k]]
        audit.record(
            action,
            target,
            organisation_id=organisation_id,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )


def _check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise DirectoryError(
            "password", _("A password has at least %(count)d characters.", count=MIN_LENGTH)
        )


def _check_unique(model, field: str, value, exclude: int | None = None) -> None:
    if not value:
        return
    query = select(func.count()).select_from(model).where(getattr(model, field) == value)
    if exclude is not None:
        query = query.where(model.id != exclude)
    if db.session.scalar(query):
        raise DirectoryError(field, _("%(value)s is already used.", value=value))


def _check_parent(org: Organisation, parent_id: int | None, self_id: int | None = None) -> None:
    if parent_id is None:
        return
    parent = db.session.get(Account, parent_id)
    if parent is None or parent.organisation_id != org.id or parent.id == self_id:
        raise DirectoryError(
            "parent_id", _("The parent must be another account of the same organisation.")
        )
