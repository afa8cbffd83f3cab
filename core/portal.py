"""The customer side of the shell: home page, scope selector, organisation switch,
the header menu, and the one gate that hides disabled apps' routes."""

from __future__ import annotations

import logging
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from core import activation
from core import favourites as favourites_mod
from core.appinfo import App, MenuItem, SearchResult
from core.appsystem import registry
from core.auth import require_operator
from core.extensions import db
from core.favourites import DashboardError
from core.i18n import gettext as _
from core.models import Account, Membership, Organisation
from core.rendering import local_path, plugin_url, render, row_url, switch_value
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
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.before_request(gate_plugin_blueprints)
    app.context_processor(shell_context)
    app.jinja_env.globals["row_url"] = row_url


def shell_context() -> dict:
    """What the page shell reads; nothing of it outside a request (the worker renders
    e-mails and documents, which have no shell)."""
    if not has_request_context():
        return {}
    return {"shell": Shell, "plugin_url": plugin_url, "brand": brand()}


@dataclass(frozen=True)
class Brand:
    """The provider as the header shows it (the ``BRAND`` setting)."""

    name: str
    logo_url: str
    terms_url: str


TERMS_FILE = "conditions.txt"  # the provider's terms of sale, in the instance folder


def brand() -> Brand:
    settings = {"name": "Guichet", "logo": "", "terms_url": "", **current_app.config["BRAND"]}
    terms = settings["terms_url"]
    if not terms and (Path(current_app.instance_path) / TERMS_FILE).exists():
        terms = url_for("portal.terms")
    logo = settings["logo"]
    if not logo:
        logo_url = url_for("static", filename="favicon.svg")
    elif logo.startswith(("/", "http://", "https://")):
        logo_url = logo
    else:
        logo_url = url_for("portal.brand_logo")
    return Brand(settings["name"], logo_url, terms)


def gate_plugin_blueprints():
    """Answer 404 on a plugin's routes unless the current organisation has its app on
    (or, on a back-office blueprint, unless the user is an operator). The only place
    where gating of plugin routes happens."""
    apps = registry(current_app)
    blueprint = request.blueprint or _blueprint_of_other_methods()
    if blueprint in apps.operator_blueprints:
        return require_operator()
    app_key = apps.blueprint_apps.get(blueprint or "")
    if app_key is None:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    membership = current_membership()
    if membership is None:
        abort(404)
    if app_key not in favourites_mod.usable_apps(membership):
        app = apps.app(app_key)
        abort(
            404,
            _(
                "“%(app)s” is not available to %(organisation)s: it may have been "
                "switched off. Your other apps are in the menu.",
                app=app.name,
                organisation=membership.organisation.name,
            ),
        )
    return None


def _blueprint_of_other_methods() -> str | None:
    """The blueprint of the route at this path when it takes other methods only (a GET
    on a POST-only route): gated like that route, so that a switched-off app's routes
    answer 404 to every method, not 405."""
    error = request.routing_exception
    if not isinstance(error, MethodNotAllowed) or not error.valid_methods:
        return None
    adapter = current_app.create_url_adapter(request)
    endpoint, _values = adapter.match(request.path, method=sorted(error.valid_methods)[0])
    return endpoint.rpartition(".")[0] or None


@dataclass
class MenuSection:
    title: str
    items: list[MenuItem] = field(default_factory=list)


class Shell:
    """What the page shell shows around the content, computed on demand per request."""

    @staticmethod
    def menu() -> list[MenuSection]:
        membership = current_membership()
        if membership is None:
            return []
        sections: dict[str, MenuSection] = {}
        hooks = registry(current_app).for_organisation(membership)
        for item in hooks.menu(current_user, membership.organisation):
            title = str(item.section)
            sections.setdefault(title, MenuSection(title)).items.append(item)
        return list(sections.values())

    @staticmethod
    def actions(target) -> list:
        """What the enabled apps offer on ``target`` (``guichet_actions``), in order."""
        membership = current_membership()
        if membership is None:
            return []
        hooks = registry(current_app).for_organisation(membership)
        return sorted(hooks.call("guichet_actions", target=target), key=lambda a: a.order)

    @staticmethod
    def tabs(app_key: str) -> list[MenuItem]:
        """The tabs other usable apps add to ``app_key``'s pages (``guichet_tabs``)."""
        membership = current_membership()
        if membership is None:
            return []
        hooks = registry(current_app).for_organisation(membership)
        return sorted(hooks.call("guichet_tabs", app_key=app_key), key=lambda t: t.order)

    @staticmethod
    def favourites() -> list[App]:
        membership = current_membership()
        return favourites_mod.favourites(membership) if membership else []

    @staticmethod
    def memberships() -> list[Membership]:
        return user_memberships()

    @staticmethod
    def scope_label() -> str:
        scope = current_scope()
        if scope.account_ids is None:
            return _("All accounts")
        return _("%(count)d account(s)", count=len(scope.account_ids))


@bp.get("/conditions")
def terms():
    """ "Conditions spécifiques de vente": the provider's terms, kept as plain text in
    the instance folder (``BRAND["terms_url"]`` points elsewhere instead)."""
    url = current_app.config["BRAND"].get("terms_url")
    if url:
        return redirect(url)
    path = Path(current_app.instance_path) / TERMS_FILE
    if not path.exists():
        abort(404)
    paragraphs = [p.strip() for p in path.read_text("utf-8").split("\n\n") if p.strip()]
    return render("portal/terms.html", paragraphs=paragraphs)


@bp.get("/brand/logo")
def brand_logo():
    """The provider's logo, a file of the instance folder named by ``BRAND["logo"]``."""
    name = current_app.config["BRAND"].get("logo", "")
    if not name or name.startswith(("/", "http://", "https://")):
        abort(404)
    return send_from_directory(current_app.instance_path, name, max_age=3600)


@bp.get("/")
@login_required
def home():
    if current_membership() is None:
        if current_user.is_operator:
            return redirect(url_for("operator.index"))
        abort(404)
    membership = current_membership()
    return render(
        "portal/home.html",
        widgets=favourites_mod.pinned_widgets(membership),
        apps=favourites_mod.usable_apps(membership),
    )


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
            status = 422
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


# -- dashboard, favourites and pins ---------------------------------------------------


def _membership_or_404() -> Membership:
    membership = current_membership()
    if membership is None:
        abort(404)
    return membership


def _refusable(action):
    """Run ``action``; a :class:`DashboardError` answers its 4xx with its message."""
    try:
        return action()
    except DashboardError as error:
        db.session.rollback()
        abort(error.status, str(error))


def _changed(action) -> None:
    """Run a favourites/pins change and commit it; a refused change changes nothing."""
    _refusable(action)
    db.session.commit()


@bp.get("/favourites")
@login_required
def manage_favourites():
    """ "Ajouter / gérer vos favoris": every usable app, with its two switches."""
    membership = _membership_or_404()
    apps = favourites_mod.usable_apps(membership)
    widgets = favourites_mod.widgets_of(apps)
    by_app: dict[str, list] = defaultdict(list)
    for widget in widgets.values():
        by_app[widget.app_key].append(widget)
    return render(
        "portal/favourites.html",
        apps=sorted(apps.values(), key=lambda a: str(a.name)),
        widgets=by_app,
        favourite_keys={a.key for a in favourites_mod.favourites(membership)},
        pinned_keys={w.key for w in favourites_mod.pinned_widgets(membership)},
    )


def _switch_answer(url: str, enabled: bool, label: str):
    """HTMX: the switch in its new state, plus the favourites bar out of band.
    Without JavaScript: back to where the form came from."""
    if request.htmx:
        return render_template("portal/switch_answer.html", url=url, enabled=enabled, label=label)
    return redirect(local_path(request.form.get("next")) or url_for("portal.manage_favourites"))


@bp.post("/favourites/<app_key>")
@login_required
def toggle_favourite(app_key: str):
    membership = _membership_or_404()
    app = _refusable(lambda: favourites_mod.usable_app(membership, app_key))
    enabled = switch_value()
    _changed(lambda: favourites_mod.set_favourite(membership, app_key, enabled))
    url = url_for("portal.toggle_favourite", app_key=app_key)
    return _switch_answer(url, enabled, _("Add %(app)s to the favourites", app=app.name))


@bp.post("/pins/<widget_key>")
@login_required
def toggle_pin(widget_key: str):
    membership = _membership_or_404()
    widget = _refusable(lambda: favourites_mod.usable_widget(membership, widget_key))
    enabled = switch_value()
    _changed(lambda: favourites_mod.set_pin(membership, widget_key, enabled))
    url = url_for("portal.toggle_pin", widget_key=widget_key)
    return _switch_answer(url, enabled, _("Pin %(widget)s", widget=widget.title))


@bp.post("/pins/order")
@login_required
def order_pins():
    """Save the order after a drag and drop: ``widget`` repeated, in the new order."""
    membership = _membership_or_404()
    _changed(lambda: favourites_mod.reorder_pins(membership, request.form.getlist("widget")))
    return ("", 204) if request.htmx else redirect(url_for("portal.home"))


@bp.post("/pins/<widget_key>/move")
@login_required
def move_pin(widget_key: str):
    """Keyboard re-ordering: one place earlier or later."""
    membership = _membership_or_404()
    _refusable(lambda: favourites_mod.usable_widget(membership, widget_key))
    steps = {"earlier": -1, "later": 1}
    direction = request.form.get("direction")
    if direction not in steps:
        abort(400, _("Say direction=earlier or direction=later."))
    _changed(lambda: favourites_mod.move_pin(membership, widget_key, steps[direction]))
    return ("", 204) if request.htmx else redirect(url_for("portal.home"))


@bp.get("/widgets/<widget_key>")
@login_required
def widget(widget_key: str):
    """One widget's content, loaded by the dashboard after it has painted. A widget
    that raises shows as unavailable with a retry link; the page never fails."""
    membership = _membership_or_404()
    found = _refusable(lambda: favourites_mod.usable_widget(membership, widget_key))
    view = current_app.view_functions.get(found.endpoint)
    try:
        if view is None:
            raise LookupError(f"no endpoint {found.endpoint}")
        return current_app.make_response(view())
    except HTTPException:
        raise
    except Exception:
        plugin = registry(current_app).apps[found.app_key].plugin_name
        log.exception("plugin %s failed in widget %s", plugin, widget_key)
        db.session.rollback()
        return render_template("portal/widget_unavailable.html", widget=found)


@bp.route("/applications/<app_key>/reglages", methods=["GET", "POST"])
@login_required
def app_settings(app_key: str):
    """An app's settings for the organisation (``App.settings_form``), for its admins:
    the form shows what the organisation chose (or the defaults), and saving changes
    the settings it names, audited. 404 for members, and for an app the organisation
    may not use or that has no settings form."""
    membership = _membership_or_404()
    app = favourites_mod.usable_apps(membership).get(app_key)
    if app is None or app.settings_form is None or not membership.is_admin:
        abort(404)
    current = activation.app_settings(membership.organisation_id, app_key)
    form = app.settings_form(data=current)
    if form.validate_on_submit():
        values = {name: form[name].data for name in app.settings if name in form}
        activation.update_app_settings(membership.organisation, app_key, values)
        db.session.commit()
        flash(_("Settings saved."), "success")
        return redirect(url_for("portal.app_settings", app_key=app_key), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("portal/app_settings.html", app=app, form=form), status


@bp.get("/search")
@login_required
def search():
    """The global search box ("Rechercher un produit, un service, un outil"): the
    apps by name and description, the accounts of the scope by client code and name,
    then what every enabled app answers through ``guichet_search``, within the scope;
    results are grouped."""
    membership = _membership_or_404()
    query = request.args.get("q", "").strip()[:100]
    groups: dict[str, list[SearchResult]] = {}
    if len(query) >= 2:
        apps = favourites_mod.usable_apps(membership)
        found_apps = _matching_apps(apps, query)
        if found_apps:
            groups[_("Apps")] = found_apps
        found_accounts = _matching_accounts(query)
        if found_accounts:
            groups[_("Accounts")] = found_accounts
        hooks = registry(current_app).for_organisation(membership)
        for result in hooks.call("guichet_search", query=query, scope=current_scope()):
            groups.setdefault(str(apps[result.app_key].name), []).append(result)
    return render("portal/search.html", block="results", query=query, groups=groups)


def folded(text: str) -> str:
    """``text`` without case nor accents, to compare what people type with names."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _matching_apps(apps: dict[str, App], query: str) -> list[SearchResult]:
    wanted = folded(query)
    found = []
    for app in sorted(apps.values(), key=lambda a: str(a.name)):
        url = plugin_url(app.endpoint)
        if url and (wanted in folded(app.name) or wanted in folded(app.description)):
            found.append(SearchResult(app.key, str(app.name), url, str(app.description)))
    return found[:5]


def _matching_accounts(query: str) -> list[SearchResult]:
    pattern = f"%{query}%"
    rows = db.session.scalars(
        scoped(Account)
        .where(Account.client_code.startswith(query) | Account.name.ilike(pattern))
        .order_by(Account.client_code)
        .limit(5)
    )
    return [
        SearchResult("", a.client_code, url_for("portal.account", account_id=a.id), a.name)
        for a in rows
    ]
