"""The customer side of the shell: home page, scope selector, organisation switch,
the header menu, and the one gate that hides disabled apps' routes."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from core.activation import enabled_app_keys
from core.appinfo import App, MenuItem
from core.appsystem import registry
from core.extensions import db
from core.models import Account, Membership, Organisation
from core.rendering import local_path, render
from core.tenancy import (
    ScopeError,
    choose_organisation,
    choose_scope,
    current_membership,
    current_scope,
    get_scoped_or_404,
    permitted_account_ids,
    scoped,
    user_memberships,
)

bp = Blueprint("portal", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    app.before_request(gate_plugin_blueprints)
    app.context_processor(lambda: {"shell": Shell})


def gate_plugin_blueprints():
    """Answer 404 on a plugin's routes unless the current organisation has its app on.
    The only place where tenant gating of plugin routes happens."""
    app_key = registry(current_app).blueprint_apps.get(request.blueprint or "")
    if app_key is None:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    membership = current_membership()
    if membership is None or app_key not in enabled_app_keys(membership.organisation_id):
        abort(404)
    app = registry(current_app).app(app_key)
    if "admin" in app.permissions and not membership.is_admin:
        abort(404)
    return None


@dataclass
class MenuSection:
    title: str
    items: list[MenuItem] = field(default_factory=list)


class Shell:
    """What the page shell shows around the content, computed on demand per request."""

    @staticmethod
    def enabled_apps() -> list[App]:
        membership = current_membership()
        if membership is None:
            return []
        keys = enabled_app_keys(membership.organisation_id)
        return [a for a in registry(current_app).sorted_apps(keys) if _may_use(a, membership)]

    @staticmethod
    def menu() -> list[MenuSection]:
        membership = current_membership()
        if membership is None:
            return []
        reg = registry(current_app)
        enabled = enabled_app_keys(membership.organisation_id)
        sections: dict[str, MenuSection] = {}
        items = reg.call(
            "guichet_menu_items",
            enabled=enabled,
            user=current_user,
            organisation=membership.organisation,
        )
        for item in sorted(items, key=lambda i: i.order):
            app = reg.app(item.app_key)
            if item.app_key not in enabled or app is None or not _may_use(app, membership):
                continue
            title = str(item.section)
            sections.setdefault(title, MenuSection(title)).items.append(item)
        return list(sections.values())

    @staticmethod
    def memberships() -> list[Membership]:
        return user_memberships()

    @staticmethod
    def scope_label() -> str:
        scope = current_scope()
        if scope.account_ids is None:
            return _("All accounts")
        return _("%(count)d account(s)", count=len(scope.account_ids))


def _may_use(app: App, membership: Membership) -> bool:
    return "admin" not in app.permissions or membership.is_admin


@bp.get("/")
@login_required
def home():
    if current_membership() is None:
        if current_user.is_operator:
            return redirect(url_for("operator.index"))
        abort(404)
    return render("portal/home.html")


@bp.route("/scope", methods=["GET", "POST"])
@login_required
def scope():
    """The "Périmètre de consultation": which permitted accounts the user looks at."""
    membership = current_membership()
    if membership is None:
        abort(404)
    status = 200
    if request.method == "POST":
        raw = request.form.getlist("account")
        try:
            choose_scope([int(v) for v in raw])
        except (ValueError, ScopeError):
            flash(
                _("Some of the chosen accounts are not yours; the scope was not changed."), "error"
            )
            status = 400
        else:
            flash(_("Scope updated."), "info")
            return redirect(local_path(request.form.get("next")) or url_for("portal.scope"))
    permitted = permitted_account_ids(membership)
    query = select(Account).where(Account.organisation_id == membership.organisation_id)
    if permitted is not None:
        query = query.where(Account.id.in_(permitted))
    accounts = db.session.scalars(query.order_by(Account.client_code)).all()
    chosen = current_scope().account_ids
    return render("portal/scope.html", accounts=accounts, chosen=chosen), status


@bp.post("/organisations/<int:org_id>/switch")
@login_required
def switch_organisation(org_id: int):
    choose_organisation(org_id)
    org = db.session.get(Organisation, org_id)
    flash(_("You are now working for %(name)s.", name=org.name), "info")
    return redirect(url_for("portal.home"))


@bp.get("/accounts/<int:account_id>")
@login_required
def account(account_id: int):
    """One account of the scope, with its sub-accounts."""
    acc = get_scoped_or_404(Account, account_id)
    children = db.session.scalars(
        scoped(Account).where(Account.parent_id == acc.id).order_by(Account.client_code)
    ).all()
    parent = None
    if acc.parent_id is not None:  # shown only when it is in the scope too
        parent = db.session.scalar(scoped(Account).where(Account.id == acc.parent_id))
    return render("portal/account.html", account=acc, parent=parent, children=children)
