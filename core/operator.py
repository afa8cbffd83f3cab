"""The operator back-office: organisations and accounts, users and memberships, the
organisations × apps matrix, the audit log and the failed background tasks. Hidden
(404) from everyone else."""

from __future__ import annotations

import json

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
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from core import (
    activation,
    api,
    audit,
    directory,
    documents,
    favourites,
    jobs,
    personal,
    sso,
    twofactor,
)
from core.appinfo import OperatorPage
from core.appsystem import API_VERSION, registry
from core.auth import require_operator
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import language_choices
from core.i18n import lazy_gettext as _l
from core.listing import Listing, page_rows, read_page
from core.models import (
    Account,
    ApiToken,
    AppActivation,
    AuditEvent,
    FailedTask,
    Membership,
    Organisation,
    SsoConnection,
    User,
)
from core.passwords import MIN_LENGTH
from core.rendering import form_status, local_path, render, switch_value

bp = Blueprint("operator", __name__, template_folder="templates")


bp.before_request(require_operator)


@bp.app_template_filter("readable_json")
def readable_json(value) -> str:
    """A value of the audit trail as JSON a person reads: accents as they are."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@bp.app_context_processor
def back_office_menu():
    """The back-office menu, on the back-office's pages (the core's and those plugins
    add with operators' blueprints): the core's pages, then the plugins'."""
    blueprint = request.blueprint if request else None
    if blueprint != bp.name and blueprint not in registry(current_app).operator_blueprints:
        return {}
    pages = [
        p
        for p in registry(current_app).call("guichet_operator_pages")
        if isinstance(p, OperatorPage)
    ]
    return {
        "plugin_pages": sorted(pages, key=lambda p: (p.order, str(p.label))),
        "issuer_missing": documents.issuer_missing(current_app.config["ISSUER"]),
    }


# -- forms ---------------------------------------------------------------------------


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    siret = StringField(
        _l("SIRET"),
        validators=[Optional(), Regexp(r"^\d{14}$", message=_l("A SIRET has 14 digits."))],
    )
    vat_number = StringField(
        _l("VAT number"),
        validators=[
            Optional(),
            Regexp(r"^[A-Z]{2}[0-9A-Z]{2,13}$", message=_l("Example: FR40303265045.")),
        ],
    )
    address = TextAreaField(_l("Postal address"), validators=[Length(max=500)])
    locale = SelectField(_l("Language"), choices=language_choices())
    require_2fa = BooleanField(_l("Every member logs in with a second factor"))


class AccountForm(FlaskForm):
    client_code = StringField(
        _l("Client code"),
        validators=[
            DataRequired(),
            Regexp(r"^[0-9A-Za-z-]{1,32}$", message=_l("Digits, letters and dashes only.")),
        ],
    )
    name = StringField(_l("Name"), validators=[Length(max=200)])
    parent_id = SelectField(_l("Parent account"), coerce=lambda v: int(v) if v else None)


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    locale = SelectField(_l("Language"), choices=[SelectChoice("", "—"), *language_choices()])
    is_operator = BooleanField(_l("Operator"))
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(min=MIN_LENGTH)],
        description=_l("Leave empty to keep the current one."),
    )


class MemberForm(FlaskForm):
    email = EmailField(_l("User's e-mail"), validators=[DataRequired(), Email()])
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice("member", _l("Member")), SelectChoice("admin", _l("Admin"))],
    )


OPTIONAL = {"siret", "vat_number", "parent_id", "locale"}


def _form_values(form: FlaskForm, names: tuple[str, ...]) -> dict:
    """The form's data for ``names``; an empty optional field becomes ``None``."""
    data = {name: getattr(form, name).data for name in names}
    return {k: (v or None) if k in OPTIONAL else v for k, v in data.items()}


def _apply(form: FlaskForm, action) -> bool:
    """Run a directory change; on a rule error put the message on its field."""
    try:
        action()
    except directory.DirectoryError as error:
        db.session.rollback()
        field = getattr(form, error.field, None)
        (field.errors if field is not None else form.form_errors).append(str(error))
        return False
    db.session.commit()
    return True


def _listing(size: int) -> Listing:
    """The page of an operator's list asked in the URL, ``size`` rows a page."""
    return Listing(size=size, page=read_page(request.args))


# -- organisations and accounts ------------------------------------------------------


@bp.get("/")
def index():
    return redirect(url_for("operator.organisations"))


@bp.get("/organisations")
def organisations():
    q = request.args.get("q", "").strip()
    query = select(Organisation)
    if q:
        like = f"%{q}%"
        by_code = select(Account.organisation_id).where(Account.client_code.startswith(q))
        query = query.where(
            or_(
                Organisation.name.ilike(like),
                Organisation.siret.startswith(q),
                Organisation.id.in_(by_code),
            )
        )
    listing = _listing(25)
    rows = page_rows(listing, query, (Organisation.name, Organisation.id))
    return render("operator/organisations.html", "results", listing=listing, rows=rows, q=q)


@bp.route("/organisations/new", methods=["GET", "POST"])
def organisation_new():
    form = OrganisationForm()
    if form.validate_on_submit():
        values = _form_values(form, directory.ORG_FIELDS)
        created = {}
        if _apply(form, lambda: created.setdefault("org", directory.create_organisation(**values))):
            flash(_("Organisation created."), "info")
            return redirect(url_for("operator.organisation", org_id=created["org"].id))
    return render("operator/organisation_form.html", form=form, org=None), _status(form)


@bp.route("/organisations/<int:org_id>", methods=["GET", "POST"])
def organisation(org_id: int, sso_form: sso.ConnectionForm | None = None):
    org = db.get_or_404(Organisation, org_id)
    # the page again after a refused single sign-on form: the organisation's as it is
    form = (
        OrganisationForm(obj=org) if sso_form is None else OrganisationForm(obj=org, formdata=None)
    )
    if sso_form is None and form.validate_on_submit():
        values = _form_values(form, directory.ORG_FIELDS)
        if _apply(form, lambda: directory.update_organisation(org, **values)):
            flash(_("Organisation saved."), "info")
            return redirect(url_for("operator.organisation", org_id=org.id))
    members = db.session.scalars(
        select(Membership)
        .join(User)
        .where(Membership.organisation_id == org.id)
        .order_by(User.email)
    ).all()
    reg = registry(current_app)
    connection = db.session.scalar(
        select(SsoConnection).where(SsoConnection.organisation_id == org.id)
    )
    return render(
        "operator/organisation_form.html",
        form=form,
        org=org,
        sso_form=sso_form or sso.ConnectionForm(obj=connection),
        connection=connection,
        members=members,
        member_form=MemberForm(),
        apps=reg.sorted_apps(),
        widgets=sorted(reg.widgets.values(), key=lambda w: str(w.title)),
        defaults=org.dashboard_defaults,
    ), _status(form)


@bp.post("/organisations/<int:org_id>/sso")
def organisation_sso(org_id: int):
    """Configure the organisation's own OpenID provider (single sign-on)."""
    org = db.get_or_404(Organisation, org_id)
    form = sso.ConnectionForm()
    if form.validate_on_submit() and sso.save_connection(org, form):
        db.session.commit()
        flash(_("Single sign-on of %(name)s saved.", name=org.name), "info")
        return redirect(url_for("operator.organisation", org_id=org.id), 303)
    db.session.rollback()
    page, _ok = organisation(org_id, sso_form=form)
    return page, 422


def _account_form(org: Organisation, account: Account | None = None) -> AccountForm:
    form = AccountForm(obj=account)
    others = [a for a in org.accounts if account is None or a.id != account.id]
    form.parent_id.choices = [SelectChoice("", "—")] + [SelectChoice(a.id, a.label) for a in others]
    return form


@bp.route("/organisations/<int:org_id>/accounts/new", methods=["GET", "POST"])
def account_new(org_id: int):
    org = db.get_or_404(Organisation, org_id)
    form = _account_form(org)
    if form.validate_on_submit():
        values = _form_values(form, directory.ACCOUNT_FIELDS)
        if _apply(form, lambda: directory.create_account(org, **values)):
            flash(_("Account created."), "info")
            return redirect(url_for("operator.organisation", org_id=org.id))
    return render("operator/account_form.html", form=form, org=org, account=None), _status(form)


@bp.route("/accounts/<int:account_id>", methods=["GET", "POST"])
def account(account_id: int):
    acc = db.get_or_404(Account, account_id)
    form = _account_form(acc.organisation, acc)
    if form.validate_on_submit():
        values = _form_values(form, directory.ACCOUNT_FIELDS)
        if _apply(form, lambda: directory.update_account(acc, **values)):
            flash(_("Account saved."), "info")
            return redirect(url_for("operator.organisation", org_id=acc.organisation_id))
    return render(
        "operator/account_form.html", form=form, org=acc.organisation, account=acc
    ), _status(form)


@bp.post("/organisations/<int:org_id>/members")
def member_set(org_id: int):
    org = db.get_or_404(Organisation, org_id)
    form = MemberForm()
    if not form.validate_on_submit():
        abort(422, _("Give a valid e-mail and role."))
    user = db.session.scalar(
        select(User).where(User.email == directory.normalise_email(form.email.data))
    )
    if user is None:
        abort(422, _("No user has this e-mail; create the user first."))
    ids = request.form.getlist("account")
    if not all(v.isdigit() for v in ids):
        abort(400, _("Malformed account ids."))
    try:
        directory.set_membership(user, org, form.role.data, [int(v) for v in ids])
    except directory.DirectoryError as error:
        db.session.rollback()
        abort(400, str(error))
    db.session.commit()
    flash(_("Membership saved."), "info")
    return redirect(url_for("operator.organisation", org_id=org.id))


@bp.post("/organisations/<int:org_id>/dashboard")
def dashboard_defaults(org_id: int):
    """The dashboard new members of the organisation start with."""
    org = db.get_or_404(Organisation, org_id)
    try:
        favourites.set_dashboard_defaults(
            org, request.form.getlist("favourite"), request.form.getlist("pin")
        )
    except favourites.DashboardError as error:
        db.session.rollback()
        abort(error.status, str(error))
    db.session.commit()
    flash(_("Default dashboard saved."), "info")
    return redirect(url_for("operator.organisation", org_id=org.id))


@bp.post("/memberships/<int:membership_id>/delete")
def member_remove(membership_id: int):
    membership = db.get_or_404(Membership, membership_id)
    org_id = membership.organisation_id
    directory.remove_membership(membership)
    db.session.commit()
    flash(_("Membership removed."), "info")
    return redirect(url_for("operator.organisation", org_id=org_id))


# -- users ---------------------------------------------------------------------------


@bp.get("/users")
def users():
    q = request.args.get("q", "").strip()
    query = select(User)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(User.email.like(like), func.lower(User.name).like(like)))
    listing = _listing(25)
    rows = page_rows(listing, query, (User.email, User.id))
    return render("operator/users.html", "results", listing=listing, rows=rows, q=q)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = UserForm()
    if form.validate_on_submit():
        values = _form_values(form, directory.USER_FIELDS)
        created = {}

        def create():
            created["user"] = directory.create_user(password=form.password.data, **values)

        if _apply(form, create):
            flash(_("User created."), "info")
            return redirect(url_for("operator.user", user_id=created["user"].id))
    return render("operator/user_form.html", form=form, user=None), _status(form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int):
    target = db.get_or_404(User, user_id)
    form = UserForm(obj=target)
    if form.validate_on_submit():
        values = _form_values(form, directory.USER_FIELDS)

        def update():
            directory.update_user(target, **values)
            if form.password.data:
                directory.change_password(target, form.password.data)

        if _apply(form, update):
            flash(_("User saved."), "info")
            return redirect(url_for("operator.user", user_id=target.id))
    return render("operator/user_form.html", form=form, user=target), _status(form)


@bp.post("/users/<int:user_id>/2fa/reset")
def user_2fa_reset(user_id: int):
    """Forget a user's second factor (a lost phone and no recovery code left): they set
    a new one up at their next login where one is required."""
    target = db.get_or_404(User, user_id)
    if target.two_factor:
        twofactor.turn_off(target, "user.2fa_reset")
        db.session.commit()
        flash(_("The second factor of %(email)s is reset.", email=target.email), "info")
    return redirect(url_for("operator.user", user_id=target.id), 303)


@bp.post("/users/<int:user_id>/erase")
def user_erase(user_id: int):
    """Erase a customer as a person (the right to erasure), once their e-mail address
    is typed again: personal data gone, accounting records kept (:func:`personal.erase`)."""
    target = db.get_or_404(User, user_id)
    if target.is_operator:
        abort(422, _("Operators are not erased from here: remove their operator role first."))
    if request.form.get("confirm", "").strip().lower() != target.email:
        flash(_("Type the user's e-mail address to erase them."), "error")
        return redirect(url_for("operator.user", user_id=target.id), 303)
    email = target.email
    personal.erase(target)
    db.session.commit()
    flash(_("%(email)s is erased.", email=email), "info")
    return redirect(url_for("operator.users"), 303)


# -- apps ----------------------------------------------------------------------------


@bp.get("/plugins")
def plugins():
    """Every plugin offered at start-up: its version, its apps and hooks, the plugin
    API range it supports, and whether it loaded or why it was refused."""
    reg = registry(current_app)
    rows = []
    for status in sorted(reg.pm.statuses.values(), key=lambda s: s.name):
        plugin = reg.pm.get_plugin(status.name)
        hooks = sorted(c.name for c in reg.pm.get_hookcallers(plugin) or ()) if plugin else []
        apps = sorted(k for k, entry in reg.apps.items() if entry.plugin_name == status.name)
        rows.append((status, apps, hooks))
    return render_template("operator/plugins.html", rows=rows, api_version=API_VERSION)


@bp.get("/apps")
def apps():
    """Organisations × apps, with on/off switches that toggle in place."""
    q = request.args.get("q", "").strip()
    query = select(Organisation)
    if q:
        query = query.where(Organisation.name.ilike(f"%{q}%"))
    listing = _listing(20)
    rows = page_rows(listing, query, (Organisation.name, Organisation.id))
    org_ids = [o.id for o in rows]
    explicit = {
        (org_id, key): enabled
        for org_id, key, enabled in db.session.execute(
            select(
                AppActivation.organisation_id, AppActivation.app_key, AppActivation.enabled
            ).where(AppActivation.organisation_id.in_(org_ids))
        )
    }
    defaults = activation.app_defaults()
    state = {
        (org_id, key): explicit.get((org_id, key), defaults[key])
        for org_id in org_ids
        for key in defaults
    }
    return render(
        "operator/apps.html",
        listing=listing,
        rows=rows,
        q=q,
        state=state,
        defaults=defaults,
        apps=registry(current_app).sorted_apps(),
    )


@bp.post("/apps/<int:org_id>/<app_key>")
def app_toggle(org_id: int, app_key: str):
    org = db.get_or_404(Organisation, org_id)
    enabled = switch_value()
    try:
        activation.set_app_enabled(org, app_key, enabled)
    except activation.UnknownApp:
        abort(404, _("Unknown app %(key)s.", key=app_key))
    db.session.commit()
    app = registry(current_app).app(app_key)
    label = _("%(app)s for %(org)s", app=app.name, org=org.name)
    url = url_for("operator.app_toggle", org_id=org.id, app_key=app_key)
    return _switch_or_back(url, enabled, label)


@bp.post("/apps/default/<app_key>")
def app_default(app_key: str):
    enabled = switch_value()
    try:
        activation.set_app_default(app_key, enabled)
    except activation.UnknownApp:
        abort(404, _("Unknown app %(key)s.", key=app_key))
    db.session.commit()
    label = _("%(app)s on by default", app=registry(current_app).app(app_key).name)
    return _switch_or_back(url_for("operator.app_default", app_key=app_key), enabled, label)


def _switch_or_back(url: str, enabled: bool, label: str):
    """HTMX gets the switch re-rendered in place; a plain form post goes back to the matrix."""
    if request.htmx:
        return render_template("operator/switch.html", url=url, enabled=enabled, label=label)
    flash(_("Saved."), "info")
    return redirect(local_path(request.form.get("next")) or url_for("operator.apps"))


# -- API tokens ----------------------------------------------------------------------


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])


@bp.route("/api-tokens", methods=["GET", "POST"])
def api_tokens():
    """Bearer tokens of the import API: issue one (shown once, never stored), revoke."""
    form = TokenForm()
    issued = None
    if form.validate_on_submit():
        token, issued = api.issue_token(form.name.data)
        db.session.commit()
        form = TokenForm(formdata=None)
    tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    return render("operator/api_tokens.html", form=form, tokens=tokens, issued=issued), _status(
        form
    )


@bp.post("/api-tokens/<int:token_id>/revoke")
def api_token_revoke(token_id: int):
    api.revoke_token(db.get_or_404(ApiToken, token_id))
    db.session.commit()
    flash(_("The token is revoked."), "info")
    return redirect(url_for("operator.api_tokens"))


# -- audit ---------------------------------------------------------------------------


@bp.get("/audit")
def audit_log():
    org_id = request.args.get("organisation", "")
    query = select(AuditEvent)
    if org_id.isdigit():
        query = query.where(AuditEvent.organisation_id == int(org_id))
    listing = _listing(50)
    rows = page_rows(listing, query, (AuditEvent.at.desc(), AuditEvent.id.desc()))
    return render("operator/audit.html", listing=listing, rows=rows, organisation=org_id)


# -- failed tasks (the job queue's dead letters) ----------------------------------------


@bp.get("/taches")
def failed_tasks():
    """Background tasks whose every try failed, newest first: what, with which
    arguments, why; each may be queued again."""
    listing = _listing(50)
    rows = page_rows(listing, select(FailedTask), (FailedTask.id.desc(),))
    return render("operator/failed_tasks.html", listing=listing, rows=rows)


@bp.post("/taches/<int:task_id>/relancer")
def failed_task_retry(task_id: int):
    failed = db.get_or_404(FailedTask, task_id)
    if failed.retried_at is not None:
        flash(_("This task was queued again already."), "info")
        return redirect(url_for("operator.failed_tasks"))
    try:
        jobs.retry_failed(failed, current_user)
    except LookupError:
        flash(_("No installed app runs a task named %(name)s any more.", name=failed.name), "error")
        return redirect(url_for("operator.failed_tasks"))
    audit.record("task.retried", failed.name, after={"id": failed.id, "args": failed.args})
    db.session.commit()
    flash(_("The task is queued again."), "success")
    return redirect(url_for("operator.failed_tasks"))


def _status(form: FlaskForm) -> int:
    return form_status(form) if form.errors or form.form_errors else 200
