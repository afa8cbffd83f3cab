"""The customer's own administration ("Administration"): an organisation's admins see
its members, invite colleagues by e-mail, change a member's role, the accounts they
may see and the apps they may use (enforced by the core's gate, menus and hooks:
a member without "Paiements en ligne" gets 404 on its pages), suspend and resume a
member, reset a member's second factor, and remove members.

An invitation's link carries a random token of which only the SHA-256 is kept; it
works for ``INVITATION_DAYS`` days, once. Opened by someone without an account, it asks
for a name and a password and creates the user with the role and accounts chosen; by
someone who has one, it asks them to log in and adds the membership. Opened while
logged in as someone else, it is refused (and says so). Where the organisation
requires a second factor, the new member sets one up at their next page."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import delete, func, select, update
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length
from wtforms.widgets import CheckboxInput, ListWidget

from core import audit, directory, jobs, twofactor
from core.activation import usable_app_keys
from core.appsystem import registry
from core.auth import finish_login
from core.extensions import db, limiter
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mailing import send_email
from core.models import (
    Account,
    Invitation,
    Membership,
    Organisation,
    User,
    UserSession,
    as_utc,
    utcnow,
)
from core.passwords import MIN_LENGTH
from core.rendering import external_url, form_status
from core.tenancy import current_membership

bp = Blueprint("team", __name__)
ROLES = {"member": _l("Member"), "admin": _l("Admin")}


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField(_l("Role"), choices=lambda: _role_choices(), default="member")
    accounts = SelectMultipleField(
        _l("Accounts they may see"),
        coerce=int,
        description=_l("None chosen: every account of the organisation."),
    )


class MemberForm(FlaskForm):
    role = SelectField(_l("Role"), choices=lambda: _role_choices())
    accounts = SelectMultipleField(
        _l("Accounts they may see"),
        coerce=int,
        description=_l("None chosen: every account of the organisation."),
    )
    every_app = BooleanField(_l("Every app, those switched on later included"))
    apps = SelectMultipleField(
        _l("Or only these apps"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class JoinForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(
        _l("Choose a password"), validators=[DataRequired(), Length(min=MIN_LENGTH)]
    )
    confirm = PasswordField(
        _l("Confirm the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in ROLES.items()]


def _admin() -> Membership:
    """The current membership, which must be an admin's (404 otherwise)."""
    if not current_user.is_authenticated:
        abort(404)
    membership = current_membership()
    if membership is None or not membership.is_admin:
        abort(404)
    return membership


def _account_choices(organisation_id: int) -> list[SelectChoice]:
    accounts = db.session.scalars(
        select(Account)
        .where(Account.organisation_id == organisation_id)
        .order_by(Account.client_code)
    )
    return [SelectChoice(a.id, f"{a.client_code} {a.name}".strip()) for a in accounts]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@bp.route("/administration/", methods=["GET", "POST"])
@login_required
def index():
    """The organisation's members and pending invitations; POST invites someone."""
    membership = _admin()
    organisation_id = membership.organisation_id
    form = InviteForm()
    form.accounts.choices = _account_choices(organisation_id)
    if form.validate_on_submit():
        email = directory.normalise_email(form.email.data)
        already = db.session.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organisation_id == organisation_id, User.email == email)
        )
        if already is not None:
            form.email.errors.append(_("This person is already a member."))
        else:
            token = secrets.token_urlsafe(32)
            invitation = Invitation(
                organisation_id=organisation_id,
                email=email,
                role=form.role.data,
                account_ids=list(form.accounts.data or []),
                token_hash=_hash(token),
                invited_by=current_user.id,
                expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"]),
            )
            db.session.add(invitation)
            db.session.flush()
            audit.record(
                "invitation.create",
                email,
                organisation_id=organisation_id,
                after={"email": email, "role": invitation.role},
            )
            db.session.commit()
            send_invitation(invitation.id, token)
            flash(_("An invitation was sent to %(email)s.", email=email), "success")
            return redirect(url_for("team.index"), 303)
    members = db.session.scalars(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id == organisation_id)
        .order_by(User.email)
    ).all()
    pending = db.session.scalars(
        select(Invitation)
        .where(
            Invitation.organisation_id == organisation_id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.id.desc())
    ).all()
    return render_template(
        "team/index.html",
        form=form,
        members=members,
        pending=pending,
        roles=ROLES,
        me=membership,
        accounts={choice.value: choice.label for choice in form.accounts.choices},
    ), form_status(form)


@jobs.task()
def send_invitation(invitation_id: int, token: str) -> bool:
    """E-mail the invitation's link, in the organisation's language."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.accepted_at is not None:
        return False
    organisation = db.session.get(Organisation, invitation.organisation_id)
    inviter = db.session.get(User, invitation.invited_by) if invitation.invited_by else None
    with force_locale(organisation.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("Join %(organisation)s on the customer portal", organisation=organisation.name)
        body = render_template(
            "team/invitation.txt",
            organisation=organisation,
            inviter=inviter,
            invitation=invitation,
            link=external_url("team.join", token=token),
        )
    return send_email([invitation.email], subject, body)


def _member_of_mine(membership_id: int, mine: Membership) -> Membership:
    found = db.session.get(Membership, membership_id)
    if found is None or found.organisation_id != mine.organisation_id:
        abort(404)
    return found


def _last_admin(member: Membership) -> bool:
    admins = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.organisation_id == member.organisation_id,
            Membership.role == "admin",
            Membership.suspended_at.is_(None),
        )
    )
    return member.is_admin and member.suspended_at is None and admins <= 1


def _app_choices(organisation_id: int) -> list[SelectChoice]:
    """The apps a member of the organisation may be given: those it has on."""
    apps = registry(current_app).apps
    keys = usable_app_keys(organisation_id, admin=False)
    named = sorted((str(apps[k].app.name), k) for k in keys)
    return [SelectChoice(key, name) for name, key in named]


@bp.route("/administration/membres/<int:membership_id>", methods=["GET", "POST"])
@login_required
def member(membership_id: int):
    """A member's role, the accounts they may see and the apps they may use."""
    mine = _admin()
    member = _member_of_mine(membership_id, mine)
    form = MemberForm(
        data={
            "role": member.role,
            "accounts": [a.id for a in member.accounts],
            "every_app": member.apps is None,
            "apps": member.apps or [],
        }
        if request.method == "GET"
        else None
    )
    form.accounts.choices = _account_choices(mine.organisation_id)
    form.apps.choices = _app_choices(mine.organisation_id)
    if form.validate_on_submit():
        if form.role.data != "admin" and _last_admin(member):
            form.role.errors.append(_("The organisation keeps at least one admin."))
        else:
            directory.set_membership(
                member.user, member.organisation, form.role.data, list(form.accounts.data or [])
            )
            every = form.every_app.data or form.role.data == "admin"
            directory.set_member_access(member, None if every else list(form.apps.data or []))
            db.session.commit()
            flash(_("%(email)s is saved.", email=member.user.email), "success")
            return redirect(url_for("team.index"), 303)
    return render_template("team/member.html", form=form, member=member, me=mine), form_status(form)


@bp.post("/administration/membres/<int:membership_id>/suspendre")
@login_required
def suspend(membership_id: int):
    """Suspend a member (they reach nothing of the organisation, and hear nothing from
    it, until resumed), or resume a suspended one."""
    mine = _admin()
    member = _member_of_mine(membership_id, mine)
    if member.id == mine.id:
        abort(422, _("You cannot suspend yourself."))
    resuming = member.suspended_at is not None
    if not resuming and _last_admin(member):
        abort(422, _("The organisation keeps at least one admin."))
    directory.set_member_access(member, member.apps, suspended=not resuming)
    db.session.flush()
    if (
        not resuming
        and not member.user.is_operator
        and not any(m.suspended_at is None for m in member.user.memberships)
    ):
        db.session.execute(delete(UserSession).where(UserSession.user_id == member.user_id))
    db.session.commit()
    if resuming:
        flash(_("%(email)s may use the portal again.", email=member.user.email), "success")
    else:
        flash(_("%(email)s is suspended.", email=member.user.email), "info")
    return redirect(url_for("team.index"), 303)


@bp.post("/administration/membres/<int:membership_id>/retirer")
@login_required
def remove(membership_id: int):
    """Remove a member from the organisation (their account stays, for their other
    organisations and the records they made)."""
    mine = _admin()
    member = _member_of_mine(membership_id, mine)
    if _last_admin(member):
        abort(422, _("The organisation keeps at least one admin."))
    email = member.user.email
    directory.remove_membership(member)
    db.session.commit()
    flash(_("%(email)s is no longer a member.", email=email), "info")
    return redirect(url_for("team.index"), 303)


@bp.post("/administration/membres/<int:membership_id>/2fa")
@login_required
def reset_2fa(membership_id: int):
    """Reset a member's second factor (a lost phone): they set a new one up."""
    mine = _admin()
    member = _member_of_mine(membership_id, mine)
    if member.user.two_factor:
        twofactor.turn_off(member.user, "user.2fa_reset")
        db.session.commit()
        flash(_("The second factor of %(email)s is reset.", email=member.user.email), "info")
    return redirect(url_for("team.index"), 303)


@bp.post("/administration/invitations/<int:invitation_id>/annuler")
@login_required
def cancel(invitation_id: int):
    """Withdraw an invitation not yet accepted: its link stops working."""
    mine = _admin()
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != mine.organisation_id:
        abort(404)
    if invitation.accepted_at is None:
        db.session.delete(invitation)
        db.session.commit()
    return redirect(url_for("team.index"), 303)


# --- the invitee's side ------------------------------------------------------------


def _invitation(token: str) -> Invitation | None:
    found = db.session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if found is None or found.accepted_at is not None:
        return None
    return found if as_utc(found.expires_at) > utcnow() else None


def _accept(invitation: Invitation, user: User) -> bool:
    """Make ``user`` a member as invited, once (a conditional update); the caller
    commits. False when it was taken already, or when every account it named has
    gone since (an empty list would mean every account)."""
    still = db.session.scalars(  # an account removed since the invitation is left out
        select(Account.id).where(
            Account.organisation_id == invitation.organisation_id,
            Account.id.in_(invitation.account_ids or [0]),
        )
    ).all()
    if invitation.account_ids and not still:
        return False
    taken = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow())
    ).rowcount
    if taken != 1:
        return False
    organisation = db.session.get(Organisation, invitation.organisation_id)
    directory.set_membership(user, organisation, invitation.role, list(still))
    audit.record("invitation.accept", user.email, organisation_id=organisation.id, actor=user)
    return True


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def join(token: str):
    """Where an invitation's link leads."""
    invitation = _invitation(token)
    if invitation is None:
        return render_template("team/invalid.html"), 404
    organisation = db.session.get(Organisation, invitation.organisation_id)
    existing = db.session.scalar(select(User).where(User.email == invitation.email))
    if current_user.is_authenticated:
        if current_user.email != invitation.email:
            return render_template(
                "team/someone_else.html", invitation=invitation, organisation=organisation
            ), 403
        if request.method == "POST":
            if not _accept(invitation, current_user._get_current_object()):
                db.session.rollback()
                return render_template("team/invalid.html"), 404
            db.session.commit()
            flash(_("You are now a member of %(name)s.", name=organisation.name), "success")
            return redirect(url_for("portal.home"), 303)
        return render_template("team/accept.html", organisation=organisation)
    if existing is not None:  # log in as that user, then come back here
        flash(_("Log in to join %(name)s.", name=organisation.name), "info")
        return redirect(url_for("auth.login", next=url_for("team.join", token=token)))
    form = JoinForm()
    if form.validate_on_submit():
        try:
            user = directory.create_user(
                invitation.email, password=form.password.data, name=form.name.data
            )
        except directory.DirectoryError as error:
            getattr(form, error.field, form.password).errors.append(str(error))
        else:
            if not _accept(invitation, user):
                db.session.rollback()
                return render_template("team/invalid.html"), 404
            db.session.commit()
            return finish_login(user, False, None)
    return render_template(
        "team/join.html", form=form, invitation=invitation, organisation=organisation
    ), form_status(form)
