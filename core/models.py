"""The core domain: organisations (tenants), accounts, users, memberships, app switches,
favourites and pins, audit events and API tokens."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from core.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A datetime read back from the database, with its zone: SQLite returns those it
    keeps (UTC) without one."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def new_stamp() -> int:
    """A fresh value for a stamp column (``apps_stamp``, ``favourites_stamp``): random,
    so a stamp never comes back, even for a row that reuses a deleted row's id."""
    return secrets.randbits(62)


class TenantMixin:
    """A row that belongs to one organisation. The scope helper filters on it."""

    @declared_attr
    def organisation_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)


class AccountScopedMixin(TenantMixin):
    """A row that also belongs to one account; the user's scope restricts it further."""

    @declared_attr
    def account_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    siret: Mapped[str | None] = mapped_column(String(14), unique=True)
    vat_number: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(10), default="fr")
    #: every member must log in with a second factor (its admins or an operator say so)
    require_2fa: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The dashboard a new member starts with: {"favourites": [app keys], "pins": [widget
    # keys]}; None gives the sensible default (see core.favourites.seed_dashboard).
    dashboard_defaults: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Changes whenever the organisation's app switches (or the operator's defaults) do:
    # each process keeps the enabled apps it read until then (core.stamps).
    apps_stamp: Mapped[int] = mapped_column(BigInteger, default=new_stamp, server_default="0")

    accounts: Mapped[list[Account]] = relationship(
        back_populates="organisation", order_by="Account.client_code"
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name!r}>"


class Account(TenantMixin, db.Model):
    """A customer account, identified by the provider's client code (e.g. ``00002501``)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )

    organisation: Mapped[Organisation] = relationship(back_populates="accounts")
    parent: Mapped[Account | None] = relationship(remote_side=[id])

    @property
    def label(self) -> str:
        return f"{self.client_code} – {self.name}" if self.name else self.client_code


membership_accounts = Table(
    "membership_accounts",
    db.metadata,
    Column("membership_id", ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    locale: Mapped[str | None] = mapped_column(String(10))
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: a second factor is confirmed (:class:`UserTotp`): kept here, so the pages that
    #: require one ask no query of it
    two_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    #: The token of the session this object was loaded for (see :class:`UserSession`).
    session_token = None

    def get_id(self) -> str:  # Flask-Login: the session and remember cookie carry this
        return f"{self.id}:{self.session_token}"

    @property
    def display_name(self) -> str:
        return self.name or self.email


class UserTotp(db.Model):
    """A user's authenticator app (TOTP, RFC 6238): its shared secret, sealed
    (:mod:`core.sealing`), and the last time step a code was accepted for, so a code
    is never accepted twice."""

    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(255))
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SsoConnection(TenantMixin, db.Model):
    """An organisation's own OpenID Connect provider (single sign-on), as an operator
    configured it: who issues, our client there (its secret sealed, :mod:`core.sealing`),
    the e-mail domains the organisation owns, and whether its people may still log
    in with a password."""

    __tablename__ = "sso_connections"
    __table_args__ = (UniqueConstraint("organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str] = mapped_column(Text)
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_login: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SecurityKey(db.Model):
    """A security key or passkey (WebAuthn) a user added as a second factor: its
    credential id and public key, and the authenticator's signature counter (a
    counter that goes back means a cloned key: refused)."""

    __tablename__ = "security_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(255), unique=True)  # base64url
    public_key: Mapped[str] = mapped_column(Text)  # base64url of its COSE key
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryCode(db.Model):
    """A single-use recovery code, kept as its SHA-256 (80 random bits: not guessable
    from the hash); ``used_at`` once spent."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(TenantMixin, db.Model):
    """An organisation's admin invites someone by e-mail: the link carries a token of
    which only the SHA-256 is kept; it works until ``expires_at``, once."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16), default="member")
    account_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(db.Model):
    """One logged-in browser: its token is in the session and remember cookies. Logging
    out deletes it, so a cookie kept from before no longer loads; a password change
    deletes the user's others; a session ends at the latest with the remember cookie's
    duration."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: when the browser last used it, to within :data:`core.auth.SEEN_EVERY`
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(TenantMixin, db.Model):
    """A user's role in an organisation, optionally restricted to some accounts."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    ROLES = ("admin", "member")

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    # Changes whenever the member's favourites do (core.stamps).
    favourites_stamp: Mapped[int] = mapped_column(BigInteger, default=new_stamp, server_default="0")

    #: the apps an admin lets this member use (``None``: every app of the organisation
    #: the role allows); the gate, menus, widgets and hooks all follow it
    apps: Mapped[list[str] | None] = mapped_column(JSON)
    #: suspended by an admin of the organisation: the member reaches nothing there
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship()
    accounts: Mapped[list[Account]] = relationship(secondary=membership_accounts)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def app_limit(self) -> frozenset[str] | None:
        """The apps this member is limited to (``None``: no limit; admins have none)."""
        return None if self.is_admin or self.apps is None else frozenset(self.apps)


class AppActivation(TenantMixin, db.Model):
    """Whether an app is enabled for an organisation, and its per-organisation settings."""

    __tablename__ = "app_activations"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    app_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AppDefault(db.Model):
    """The operator's choice of an app's default for new organisations."""

    __tablename__ = "app_defaults"

    app_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)


class _UserOrderedItem(TenantMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    app_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Favourite(_UserOrderedItem, db.Model):
    """An app shortcut in a user's favourites bar, per organisation."""

    __tablename__ = "favourites"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id", "app_key"),)


class Pin(_UserOrderedItem, db.Model):
    """A widget pinned on a user's dashboard, per organisation."""

    __tablename__ = "pins"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id", "widget_key"),)

    widget_key: Mapped[str] = mapped_column(String(128))


#: the events a customer's trail shows (:mod:`core.activity`): not the operators' own
TRAIL = text("kind != 'other'")


class AuditEvent(db.Model):
    """Who did or changed what, when, from where, with the values before and after:
    the operators' audit and the customers' activity trail (:mod:`core.activity`)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_organisation_id_at", "organisation_id", "at"),
        # the activity trail, newest first: an organisation's (but the operators' own
        # events), one kind of it, one member's, one member's of one kind
        Index(
            "ix_audit_events_trail",
            "organisation_id",
            "id",
            sqlite_where=TRAIL,
            postgresql_where=TRAIL,
        ),
        Index("ix_audit_events_trail_kind", "organisation_id", "kind", "id"),
        Index(
            "ix_audit_events_trail_actor",
            "organisation_id",
            "actor_id",
            "id",
            sqlite_where=TRAIL,
            postgresql_where=TRAIL,
        ),
        Index("ix_audit_events_trail_actor_kind", "organisation_id", "actor_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: the trail's kind of event (``login``, ``security``, ``downloads``...)
    kind: Mapped[str] = mapped_column(String(16), default="other", server_default="other")
    ip: Mapped[str] = mapped_column(String(45), default="", server_default="")
    device: Mapped[str] = mapped_column(String(120), default="", server_default="")


class ApiToken(db.Model):
    """A bearer token for the import API, issued by an operator; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MigrationFailure(db.Model):
    """A plugin whose migration failed at the last ``guichet db upgrade``: the portal
    starts without that plugin until an upgrade succeeds (operators see why)."""

    __tablename__ = "migration_failures"

    plugin: Mapped[str] = mapped_column(String(100), primary_key=True)
    problem: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FailedTask(db.Model):
    """A background task whose every try failed (a dead letter): what it was, with
    which arguments, why its last try failed; an operator may queue it again
    (:mod:`core.jobs`)."""

    __tablename__ = "failed_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the task's name, as the queue knows it (``plugins.postal.sending.submit``)
    name: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSON)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    retried_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retried_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
