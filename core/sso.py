"""Single sign-on: an organisation's people log in through its own OpenID Connect
provider (Authlib's client). An operator configures it on the organisation's page
(issuer, client id and secret, sealed, the e-mail domains the organisation owns, and
whether a password still works); the login page's "Authentification unique" asks
for an address, and its domain leads to its provider.

The provider's answer is checked before anyone is let in: the ``state`` this browser
was given (Authlib), the ID token's signature, issuer, audience, expiry and
``nonce`` (Authlib, against the provider's own metadata), the metadata's issuer
against the one configured, a verified address in one of the organisation's domains.
Someone new from such a domain arrives as a member (just in time), with the
organisation's default dashboard; someone known logs in, and becomes a member if
they were not. The provider's own second factor stands for ours."""

from __future__ import annotations

import logging
import re

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    current_app,
    render_template,
    request,
    session,
)
from flask_wtf import FlaskForm
from joserfc.errors import JoseError
from requests import RequestException
from sqlalchemy import select
from wtforms import BooleanField, EmailField, PasswordField, StringField, URLField
from wtforms.validators import URL, DataRequired, Email, Length

from core import audit, directory, sealing
from core.auth import finish_login
from core.extensions import db, limiter
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import Membership, Organisation, SsoConnection, User, utcnow
from core.rendering import external_url, form_status

bp = Blueprint("sso", __name__)
log = logging.getLogger(__name__)
PENDING = "sso_organisation"  # the session's key while the provider is asked


class SsoForm(FlaskForm):
    email = EmailField(
        _l("Your work e-mail"), validators=[DataRequired(), Email(), Length(max=254)]
    )


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def connection_for(email: str) -> SsoConnection | None:
    """The connection of the organisation that owns ``email``'s domain."""
    domain = domain_of(email)
    for connection in db.session.scalars(select(SsoConnection)):
        if domain in connection.domains:
            return connection
    return None


def password_refused(user: User) -> bool:
    """Whether every organisation of ``user`` logs in through its provider only."""
    if user.is_operator or not user.memberships:
        return False
    ids = [m.organisation_id for m in user.memberships]
    refusing = db.session.scalars(
        select(SsoConnection.organisation_id).where(
            SsoConnection.organisation_id.in_(ids), SsoConnection.password_login.is_(False)
        )
    ).all()
    return set(refusing) == set(ids)


def _client(connection: SsoConnection):
    """Authlib's client for this organisation's provider (made again when the operator
    changes the connection)."""
    if "guichet_oauth" not in current_app.extensions:
        current_app.extensions["guichet_oauth"] = (OAuth(current_app), {})
    oauth, made = current_app.extensions["guichet_oauth"]
    name = f"sso{connection.organisation_id}"
    stamp = (connection.issuer, connection.client_id, connection.updated_at)
    if made.get(name) != stamp:
        oauth._clients.pop(name, None)  # Authlib keeps a client per name
        issuer = connection.issuer.rstrip("/")
        oauth.register(
            name,
            client_id=connection.client_id,
            client_secret=sealing.unseal(connection.client_secret),
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )
        made[name] = stamp
    return oauth.create_client(name)


def _refuse(message: str, status: int = 400):
    session.pop(PENDING, None)
    return render_template("auth/sso.html", form=SsoForm(), refused=message), status


@bp.route("/login/sso", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
def start():
    """The address, then off to the provider of the organisation that owns its domain."""
    form = SsoForm()
    if form.validate_on_submit():
        connection = connection_for(form.email.data)
        if connection is None:
            form.email.errors.append(
                _("No organisation logs in through its own provider with this address.")
            )
        else:
            try:
                client = _client(connection)
                session[PENDING] = connection.organisation_id
                return client.authorize_redirect(
                    external_url("sso.back"), login_hint=form.email.data
                )
            except (AuthlibBaseError, RequestException, ValueError) as error:
                log.warning("single sign-on of %s: %s", connection.organisation_id, error)
                return _refuse(_("Your organisation's provider cannot be reached; try later."), 502)
    return render_template("auth/sso.html", form=form, refused=""), form_status(form)


@bp.get("/login/sso/retour")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"])
def back():
    """Where the provider sends the browser back: in, or refused with the reason."""
    organisation_id = session.get(PENDING)
    connection = (
        db.session.scalar(
            select(SsoConnection).where(SsoConnection.organisation_id == organisation_id)
        )
        if organisation_id
        else None
    )
    if connection is None:
        return _refuse(_("This login is unknown or expired: start again."))
    if request.args.get("error"):
        reason = request.args.get("error_description") or request.args["error"]
        return _refuse(_("Your organisation's provider refused: %(reason)s", reason=reason))
    client = _client(connection)
    try:
        token = client.authorize_access_token()
        metadata = client.load_server_metadata()
        claims = dict(token.get("userinfo") or {})  # the ID token's, verified
        if "email" not in claims:  # a provider may keep it for its userinfo endpoint
            told = client.userinfo(token=token)
            if told.get("sub") != claims.get("sub"):
                raise ValueError("the userinfo endpoint spoke of someone else")
            claims.update(told)
    except (AuthlibBaseError, JoseError, RequestException, ValueError) as error:
        log.warning("single sign-on of %s refused: %s", organisation_id, error)
        return _refuse(_("The provider's answer was refused: %(reason)s", reason=str(error)))
    if metadata.get("issuer", "").rstrip("/") != connection.issuer.rstrip("/"):
        return _refuse(_("The provider is not the issuer configured for your organisation."))
    email = directory.normalise_email(str(claims.get("email") or ""))
    if not email or claims.get("email_verified") is False:
        return _refuse(_("The provider gave no verified e-mail address."))
    if domain_of(email) not in connection.domains:
        return _refuse(_("%(email)s is not in a domain of your organisation.", email=email), 403)
    session.pop(PENDING, None)
    organisation = db.session.get(Organisation, organisation_id)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = directory.create_user(email, name=str(claims.get("name") or ""))
    if not user.active:
        return _refuse(_("This account is closed."), 403)
    membership = db.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == organisation_id
        )
    )
    if membership is None:  # just in time: a member, with the default dashboard
        directory.set_membership(user, organisation, "member")
    elif membership.suspended_at is not None:
        return _refuse(_("Your access is suspended: ask your organisation's administrator."), 403)
    db.session.flush()
    return finish_login(user, False, None, action="login.sso")


# --- the operators' configuration ---------------------------------------------------


class ConnectionForm(FlaskForm):
    issuer = URLField(
        _l("Issuer"),
        validators=[DataRequired(), URL(require_tld=False), Length(max=255)],
        description=_l("The provider's address, as its discovery document names it."),
    )
    client_id = StringField(_l("Client id"), validators=[DataRequired(), Length(max=255)])
    client_secret = PasswordField(
        _l("Client secret"),
        validators=[Length(max=500)],
        description=_l("Left empty: the secret kept stays."),
    )
    domains = StringField(
        _l("E-mail domains"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l("The domains the organisation owns, separated by spaces or commas."),
    )
    password_login = BooleanField(_l("Its people may still log in with a password"), default=True)


DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")


def save_connection(organisation: Organisation, form: ConnectionForm) -> bool:
    """Record the form's connection for ``organisation``; False, with the form's errors
    set, when it is not one (a malformed domain, one another organisation owns, no
    secret)."""
    domains = sorted({d for d in re.split(r"[\s,;]+", form.domains.data.lower()) if d})
    wrong = [d for d in domains if not DOMAIN.match(d)]
    if wrong:
        form.domains.errors.append(_("Not a domain: %(value)s", value=", ".join(wrong)))
        return False
    connection = db.session.scalar(
        select(SsoConnection).where(SsoConnection.organisation_id == organisation.id)
    )
    for other in db.session.scalars(
        select(SsoConnection).where(SsoConnection.organisation_id != organisation.id)
    ):
        taken = set(domains) & set(other.domains)
        if taken:
            form.domains.errors.append(
                _("Another organisation owns %(value)s.", value=", ".join(sorted(taken)))
            )
            return False
    if connection is None and not form.client_secret.data:
        form.client_secret.errors.append(_("Give the client secret."))
        return False
    if connection is None:
        connection = SsoConnection(organisation_id=organisation.id)
        db.session.add(connection)
    before = {"issuer": connection.issuer, "domains": connection.domains}
    connection.issuer = form.issuer.data.rstrip("/")
    connection.client_id = form.client_id.data.strip()
    if form.client_secret.data:
        connection.client_secret = sealing.seal(form.client_secret.data)
    connection.domains = domains
    connection.password_login = bool(form.password_login.data)
    connection.updated_at = utcnow()
    audit.record(
        "organisation.sso",
        f"organisation:{organisation.id}",
        organisation_id=organisation.id,
        before=before,
        after={
            "issuer": connection.issuer,
            "domains": domains,
            "password_login": connection.password_login,
        },
    )
    return True
