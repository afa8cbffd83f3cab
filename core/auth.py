"""Logging in and out, throttling, password reset by e-mail, and the session rules
(a password change revokes every session; an expired session on an HTMX request
answers with a redirect header to the login page)."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

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
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import joinedload
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from core import activity, jobs
from core.directory import normalise_email
from core.errors import error_response
from core.extensions import db, limiter
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mailing import mail_configured, send_email, user_language
from core.models import Membership, User, UserSession, as_utc, new_session_token, utcnow
from core.passwords import MIN_LENGTH, check_password, set_password
from core.rendering import external_url, form_status, local_path

bp = Blueprint("auth", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Remember me"))
    next = StringField()


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])


class NewPasswordForm(FlaskForm):
    """A new password, typed twice: the reset page's, and any form that changes one."""

    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_LENGTH)]
    )
    confirm = PasswordField(
        _l("Confirm the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


def init_app(app: Flask, login_manager: LoginManager) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)


# The user of a live session, with the memberships (and their organisations and
# accounts) in the same query: every logged-in page needs them. Built once.
_memberships = joinedload(User.memberships)
_USER_OF_SESSION = (
    select(User, UserSession.id, UserSession.created_at, UserSession.last_seen_at)
    .join(UserSession, UserSession.user_id == User.id)
    .options(
        _memberships.joinedload(Membership.organisation),
        _memberships.joinedload(Membership.accounts),
    )
    .where(User.id == bindparam("user_id"), UserSession.token == bindparam("token"))
    .where(UserSession.created_at > bindparam("cutoff"))
)


def load_user(user_id: str) -> User | None:
    """Session and remember cookie carry ``id:token`` of a :class:`UserSession`: one
    logged out, ended by a password change or older than the remember cookie's
    duration no longer loads."""
    ident, _, token = user_id.partition(":")
    if not ident.isdigit() or not token:
        return None
    row = (
        db.session.execute(
            _USER_OF_SESSION,
            {"user_id": int(ident), "token": token, "cutoff": _session_cutoff()},
        )
        .unique()
        .one_or_none()
    )
    if row is None or not row[0].active:
        return None
    user, session_id, created, seen = row
    now = utcnow()
    if now - as_utc(seen or created) > SEEN_EVERY:  # a write every few minutes, not each page
        with db.engine.begin() as connection:
            connection.execute(_SEEN, {"ident": session_id, "now": now})
    user.session_token = token
    return user


SEEN_EVERY = timedelta(minutes=5)  # how precisely a session's last use is kept
_SEEN = (
    update(UserSession)
    .where(UserSession.id == bindparam("ident"))
    .values(last_seen_at=bindparam("now"))
)


def _session_cutoff():
    """Sessions started before this have ended (the remember cookie's duration)."""
    return utcnow() - current_app.config["REMEMBER_COOKIE_DURATION"]


def start_session(user: User, remember: bool) -> None:
    """Log ``user`` in on this browser with a session of its own (and forget the user's
    ended ones)."""
    db.session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id, UserSession.created_at <= _session_cutoff()
        )
    )
    agent = request.headers.get("User-Agent", "")[:200]
    started = UserSession(user_id=user.id, token=new_session_token(), user_agent=agent)
    db.session.add(started)
    user.session_token = started.token
    login_user(user, remember=remember)


PENDING = "pending_2fa"  # the session's key while the second factor is awaited
PENDING_SECONDS = 300


def await_second_factor(user: User, remember: bool, target: str | None) -> None:
    """The password was right; the session waits five minutes for the second factor
    (:mod:`core.twofactor`), and is not logged in until then."""
    session.clear()
    session[PENDING] = {
        "user": user.id,
        "remember": bool(remember),
        "next": target or "",
        "until": int(time.time()) + PENDING_SECONDS,
    }


def end_sessions(user: User, every: bool = False) -> None:
    """End this browser's session of ``user`` (or all of them, ``every``): their
    cookies, kept by anyone, no longer load."""
    ended = delete(UserSession).where(UserSession.user_id == user.id)
    if not every:
        ended = ended.where(UserSession.token == user.session_token)
    db.session.execute(ended)
    db.session.commit()
    logout_user()
    session.clear()


def unauthorized():
    """Send an anonymous visitor to the login page, coming back afterwards. For an HTMX
    request the redirect travels in ``HX-Redirect`` so that the whole page changes."""
    if request.htmx:
        back = urlsplit(request.htmx.current_url or "").path or request.path
        return "", 401, {"HX-Redirect": url_for("auth.login", next=local_path(back))}
    return redirect(url_for("auth.login", next=local_path(request.full_path.rstrip("?"))))


def require_operator():
    """A ``before_request`` for back-office pages: anonymous visitors go to the login
    page, everyone but operators gets 404 (the back-office does not exist for them)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.is_operator:
        abort(404)
    return None


def _login_key() -> str:
    return "login:" + normalise_email(request.form.get("email", ""))


def _failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_login_key,
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"], deduct_when=_failed
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("portal.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), form_status(form)
    user = db.session.scalar(select(User).where(User.email == normalise_email(form.email.data)))
    if not check_password(user, form.password.data) or not user.active:
        if user is not None:  # their organisations see the attempt
            activity.record_for_user(user, "login.failed")
            db.session.commit()
        form.form_errors.append(_("Wrong e-mail or password."))
        return render_template("auth/login.html", form=form), 401
    from core.sso import password_refused  # core.sso logs in through finish_login

    if password_refused(user):
        db.session.rollback()
        form.form_errors.append(
            _("Your organisation logs in through its own provider: use single sign-on.")
        )
        return render_template("auth/login.html", form=form), 403
    if suspended_everywhere(user):
        db.session.rollback()
        form.form_errors.append(
            _("Your access is suspended: ask your organisation's administrator.")
        )
        return render_template("auth/login.html", form=form), 403
    if user.two_factor:  # the password was right: the code of the second factor next
        db.session.commit()  # a rehashed password
        await_second_factor(user, form.remember.data, form.next.data)
        return redirect(url_for("twofactor.code"))
    return finish_login(user, form.remember.data, form.next.data)


def suspended_everywhere(user: User) -> bool:
    """Whether every organisation ``user`` belongs to has suspended them (an operator
    never is: the back-office is theirs)."""
    memberships = user.memberships
    return not user.is_operator and bool(memberships) and all(m.suspended_at for m in memberships)


def finish_login(user: User, remember: bool, target: str | None, action: str = "login.ok"):
    """Log ``user`` in on a fresh session (nothing of the anonymous one survives) and
    send them where they were going, or home; the activity trail says how
    (``action``)."""
    session.clear()
    start_session(user, remember=remember)
    user.last_login_at = utcnow()
    activity.record_for_user(user, action)
    db.session.commit()
    target = local_path(target)
    if target is None:
        target = url_for("operator.index") if user.is_operator else url_for("portal.home")
    return redirect(target)


@bp.post("/logout")
@login_required
def logout():
    end_sessions(current_user._get_current_object())
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    """End every session of the user, on every browser and device."""
    end_sessions(current_user._get_current_object(), every=True)
    flash(_("You are logged out everywhere."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/sessions")
@login_required
def sessions():
    """The browsers and devices where the user is logged in, most recently used first."""
    rows = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == current_user.id, UserSession.created_at > _session_cutoff())
        .order_by(UserSession.id.desc())
    ).all()
    rows.sort(key=lambda row: as_utc(row.last_seen_at or row.created_at), reverse=True)
    return render_template(
        "auth/sessions.html",
        sessions=rows,
        current=current_user.session_token,
        device_of=activity.device_of,
    )


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    """End one of the user's sessions: that browser is logged out at its next page."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    activity.record_for_user(current_user, "session.end", activity.device_of(row.user_agent))
    if row.token == current_user.session_token:
        end_sessions(current_user._get_current_object())
        flash(_("You are logged out."), "info")
        return redirect(url_for("auth.login"))
    db.session.delete(row)
    db.session.commit()
    flash(_("That session is ended."), "info")
    return redirect(url_for("auth.sessions"), 303)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def reset_token(user: User) -> str:
    """A signed token bound to the current password hash: it stops working once used."""
    return _serializer().dumps({"id": user.id, "pw": user.password_hash[-16:]})


def user_for_reset_token(token: str) -> User | None:
    try:
        data = _serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("id")) if isinstance(data, dict) else None
    if user is None or not user.active or user.password_hash[-16:] != data.get("pw"):
        return None
    return user


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form), form_status(form)
    if not mail_configured():
        form.form_errors.append(
            _("E-mail is not configured on this portal: ask your provider to reset your password.")
        )
        return render_template("auth/forgot.html", form=form), 503
    # Queued whether the address is known or not, and sent by the worker: the same
    # answer in the same time either way (no account enumeration).
    send_reset_link(normalise_email(form.email.data))
    flash(_("If an account uses this address, an e-mail with a link has been sent."), "info")
    return redirect(url_for("auth.login"))


@jobs.task()
def send_reset_link(email: str) -> bool:
    """E-mail the reset link to the active user of ``email``, in its language, if
    there is one; returns whether an e-mail went."""
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None or not user.active:
        return False
    with user_language(user):
        link = external_url("auth.reset_password", token=reset_token(user))
        body = render_template("auth/reset_email.txt", user=user, link=link)
        return send_email([user.email], _("Reset your Guichet password"), body)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = user_for_reset_token(token)
    if user is None:
        flash(_("This link is invalid, expired or already used. Ask for a new one."), "error")
        return redirect(url_for("auth.forgot_password"))
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/reset.html", form=form), form_status(form)
    set_password(user, form.password.data)
    activity.record_for_user(user, "user.password")
    db.session.commit()
    flash(_("Your password has been changed. You can log in."), "info")
    return redirect(url_for("auth.login"))


@bp.app_errorhandler(429)
def too_many_attempts(error):
    if request.endpoint == "auth.login":
        form = LoginForm()
        form.form_errors.append(
            _("Too many failed attempts. Wait 15 minutes or reset your password.")
        )
        return render_template("auth/login.html", form=form), 429
    limit = getattr(error, "limit", None)  # Flask-Limiter's; its own message, if it has one
    return error_response(429, getattr(limit, "error_message", None))
