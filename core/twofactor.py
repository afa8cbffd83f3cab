"""Two-factor authentication: an authenticator app (TOTP, RFC 6238, through
``pyotp``) with ten single-use recovery codes, asked after the password.

- Setting it up (``/securite/double-authentification``): the page shows a QR code,
  drawn on the server as SVG (``segno``: no script), and the secret to type; the
  first code confirms it, then the recovery codes are shown, once (only their
  SHA-256 is kept).
- Logging in: a user with a second factor gives the password, then a code (or a
  recovery code) within five minutes; the second step is throttled like the first.
  A code is accepted once: the time step it matched is kept, and no code of that
  step or an earlier one is accepted again. Using a recovery code e-mails the user.
- Requiring it: an organisation's admins (or an operator) require it of every
  member; operators need it when ``OPERATORS_REQUIRE_2FA`` is on (the default,
  except in ``make run``'s demo). Someone who must have one and has none is led to
  the setup page and reaches nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import delete, func, select, update
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core import activity, audit, jobs, sealing
from core.auth import PENDING, finish_login
from core.extensions import db, limiter
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mailing import send_email, user_language
from core.models import Organisation, RecoveryCode, SecurityKey, User, UserTotp, utcnow
from core.passwords import check_password
from core.rendering import external_url, form_status
from core.tenancy import current_membership

bp = Blueprint("twofactor", __name__, template_folder="templates")
SETUP = "totp_secret"  # the session's key of a secret being set up
STEP = 30  # seconds a TOTP code lives
RECOVERY_CODES = 10
# pages someone who must set a second factor up may still reach
OPEN_ENDPOINTS = frozenset({"static", "twofactor.setup", "twofactor.code"})


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("The 6 digits of your authenticator app, or a recovery code."),
    )


class DisableForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)])


class RequireForm(FlaskForm):
    require_2fa = BooleanField(_l("Require a second factor of every member"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(require_second_factor)


# --- codes -------------------------------------------------------------------------


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (now, or one either side: clocks drift) whose code is ``code``."""
    totp, now = pyotp.TOTP(secret), int(time.time()) // STEP
    for step in (now, now - 1, now + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def check_code(user: User, code: str) -> bool:
    """Whether ``code`` is the user's current TOTP code, never accepted before (the
    step it matched is kept in one conditional update: two requests racing with the
    same code, one wins). Commits."""
    code = _clean(code)
    row = db.session.get(UserTotp, user.id)
    secret = sealing.unseal(row.secret) if row is not None else ""
    step = _matching_step(secret, code) if row is not None and code.isdigit() else None
    if step is None:
        return False
    values = {"last_step": step}
    if not sealing.is_sealed(row.secret):  # kept in clear before sealing existed
        values["secret"] = sealing.seal(secret)
    taken = db.session.execute(
        update(UserTotp)
        .where(UserTotp.user_id == user.id, UserTotp.last_step < step)
        .values(**values)
    ).rowcount
    db.session.commit()
    return taken == 1


def _hash(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes (``abcd-efgh-ijkl-mnop``, 80 random bits), replacing the
    user's others; returned to be shown once. The caller commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _n in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(c)) for c in codes)
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one of the user's recovery codes (once: a conditional update); the user
    is told by e-mail. Commits."""
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    ).rowcount
    db.session.commit()
    if spent:
        recovery_code_used(user.id)
    return spent == 1


def remaining_codes(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


@jobs.task()
def recovery_code_used(user_id: int) -> bool:
    """Tell the user, in their language, that a recovery code of theirs was used to
    log in (and how many are left)."""
    user = db.session.get(User, user_id)
    if user is None:
        return False
    with user_language(user):
        subject = _("A recovery code was used to log in to your account")
        body = render_template(
            "twofactor/recovery_used.txt",
            user=user,
            remaining=remaining_codes(user),
            link=external_url("twofactor.setup"),
        )
    return send_email([user.email], subject, body)


# --- who must have one -------------------------------------------------------------


def required_of(user: User) -> bool:
    """Whether ``user`` must log in with a second factor (read from what the session
    loaded: no query)."""
    if user.is_operator and current_app.config["OPERATORS_REQUIRE_2FA"]:
        return True
    return any(m.organisation.require_2fa for m in user.memberships)


def require_second_factor():
    """A ``before_request``: someone who must have a second factor and has none sees
    only the page that sets one up (and can log out)."""
    endpoint = request.endpoint or ""
    if endpoint in OPEN_ENDPOINTS or endpoint.startswith("auth."):
        return None
    if not current_user.is_authenticated or current_user.two_factor:
        return None
    if not required_of(current_user):
        return None
    if request.htmx:
        return "", 204, {"HX-Redirect": url_for("twofactor.setup")}
    flash(
        _("A second factor is required to log in to your account: set one up to go on."),
        "warning",
    )
    return redirect(url_for("twofactor.setup"))


# --- the login's second step -------------------------------------------------------


def _pending_user() -> tuple[User | None, dict]:
    pending = session.get(PENDING) or {}
    if not pending or pending.get("until", 0) < time.time():
        return None, {}
    user = db.session.get(User, pending.get("user"))
    if user is None or not user.active or not user.two_factor:
        return None, {}
    return user, pending


def _code_key() -> str:
    return f"2fa:{(session.get(PENDING) or {}).get('user', '')}"


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_code_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 401,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 401,
)
def code():
    """The second step of the login: a code of the authenticator app, or a recovery
    code."""
    user, pending = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash(_("Log in again: the time to give the code ran out."), "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    has_keys = db.session.scalar(select(SecurityKey.id).where(SecurityKey.user_id == user.id))
    if not form.validate_on_submit():
        return render_template(
            "twofactor/code.html", form=form, has_keys=has_keys is not None
        ), form_status(form)
    given = form.code.data
    by_app = check_code(user, given)
    by_recovery = not by_app and not given.strip().isdigit() and use_recovery_code(user, given)
    if not (by_app or by_recovery):
        activity.record_for_user(user, "login.code_failed")
        db.session.commit()
        form.code.errors.append(_("This code is wrong, or was already used."))
        return render_template("twofactor/code.html", form=form, has_keys=has_keys is not None), 401
    if by_recovery:
        activity.record_for_user(user, "user.2fa_recovery")
    return finish_login(user, pending["remember"], pending["next"])


# --- setting it up, and off --------------------------------------------------------


def _qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#111111", light="#ffffff")


@bp.route("/securite/double-authentification", methods=["GET", "POST"])
@login_required
def setup():
    """Set an authenticator app up (or see that one is, with the recovery codes left,
    and turn it off or get new codes)."""
    user = current_user._get_current_object()
    membership = current_membership() if user.memberships else None
    organisation = membership.organisation if membership and membership.is_admin else None
    if user.two_factor:
        return render_template(
            "twofactor/status.html",
            keys=db.session.scalars(
                select(SecurityKey).where(SecurityKey.user_id == user.id).order_by(SecurityKey.id)
            ).all(),
            remaining=remaining_codes(user),
            required=required_of(user),
            disable=DisableForm(),
            renew=CodeForm(),
            organisation=organisation,
            require=RequireForm(require_2fa=organisation.require_2fa if organisation else False),
        )
    secret = session.get(SETUP) or pyotp.random_base32()
    session[SETUP] = secret
    form = CodeForm()
    if form.validate_on_submit():
        step = _matching_step(secret, _clean(form.code.data))
        if step is None:
            form.code.errors.append(_("This code is wrong: check your phone's clock."))
        else:
            db.session.merge(UserTotp(user_id=user.id, secret=sealing.seal(secret), last_step=step))
            user.two_factor = True
            codes = new_recovery_codes(user)
            activity.record_for_user(user, "user.2fa_on")
            db.session.commit()
            session.pop(SETUP, None)
            return render_template("twofactor/codes.html", codes=codes)
    issuer = current_app.config["BRAND"].get("name") or "Guichet"
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)
    return render_template(
        "twofactor/setup.html",
        form=form,
        qr=_qr_svg(uri),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    ), form_status(form)


@bp.post("/securite/double-authentification/codes")
@login_required
@limiter.limit("10 per hour")
def renew():
    """New recovery codes (the old ones stop working), against a current code."""
    user = current_user._get_current_object()
    form = CodeForm()
    if not user.two_factor or not form.validate_on_submit() or not check_code(user, form.code.data):
        flash(_("This code is wrong, or was already used."), "error")
        return redirect(url_for("twofactor.setup"), 303)
    codes = new_recovery_codes(user)
    activity.record_for_user(user, "user.2fa_codes")
    db.session.commit()
    return render_template("twofactor/codes.html", codes=codes)


def turn_off(user: User, action: str) -> None:
    """Forget the user's authenticator app, recovery codes and security keys (audited
    as ``action``); the caller commits. Where one is required, the user sets a new one
    up at the next page."""
    db.session.execute(delete(UserTotp).where(UserTotp.user_id == user.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(SecurityKey).where(SecurityKey.user_id == user.id))
    user.two_factor = False
    activity.record_for_user(user, action)


@bp.post("/securite/double-authentification/desactiver")
@login_required
@limiter.limit("10 per hour")
def disable():
    """Turn the second factor off, with the password and a code; not where it is
    required."""
    user = current_user._get_current_object()
    form = DisableForm()
    if required_of(user):
        abort(403, _("Your organisation requires a second factor: it cannot be turned off."))
    valid = form.validate_on_submit()
    if not (
        valid and check_password(user, form.password.data) and check_code(user, form.code.data)
    ):
        flash(_("The password or the code is wrong."), "error")
        return redirect(url_for("twofactor.setup"), 303)
    turn_off(user, "user.2fa_off")
    db.session.commit()
    flash(_("The second factor is off."), "info")
    return redirect(url_for("twofactor.setup"), 303)


@bp.post("/securite/organisation")
@login_required
def require_for_organisation():
    """An organisation's admin requires a second factor of every member, or not."""
    membership = current_membership()
    if membership is None or not membership.is_admin:
        abort(404)
    form = RequireForm()
    if not form.validate_on_submit():
        abort(400)
    organisation = db.session.get(Organisation, membership.organisation_id)
    before = organisation.require_2fa
    organisation.require_2fa = bool(form.require_2fa.data)
    audit.record(
        "organisation.update",
        f"organisation:{organisation.id}",
        organisation_id=organisation.id,
        before={"require_2fa": before},
        after={"require_2fa": organisation.require_2fa},
    )
    db.session.commit()
    if organisation.require_2fa:
        flash(_("Every member must now log in with a second factor."), "success")
    else:
        flash(_("A second factor is no longer required."), "info")
    return redirect(url_for("twofactor.setup"), 303)
