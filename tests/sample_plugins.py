"""Small plugins for the tests, registered per app through ``EXTRA_PLUGINS``."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from core.appinfo import App, MenuItem, PluginBlueprint, SearchResult, Widget
from core.extensions import db
from core.hookspecs import hookimpl
from core.import_items import ImportItem, text_field
from core.models import Account
from core.tenancy import get_scoped_or_404, scoped


class Notes:
    """An app with a page per account, a menu entry and search: exercises the gate."""

    __name__ = "notes"
    bp = Blueprint("notes", __name__)
    calls: list[str] = []

    @hookimpl
    def guichet_apps(self):
        return [App(key="notes", name="Notes", endpoint="notes.index", section="Services")]

    @hookimpl
    def guichet_blueprints(self):
        return [PluginBlueprint(self.bp, app_key="notes", url_prefix="/notes")]

    @hookimpl
    def guichet_menu_items(self, user, organisation):
        self.calls.append("menu")
        return [MenuItem("notes", "Services", "Mes notes", "notes.index")]

    @hookimpl
    def guichet_search(self, query, scope):
        rows = db.session.scalars(
            scoped(Account, scope).where(Account.client_code.startswith(query))
        )
        return [SearchResult("notes", r.client_code, f"/notes/{r.id}") for r in rows]


@Notes.bp.get("/")
def index():
    codes = db.session.scalars(scoped(Account).with_only_columns(Account.client_code)).all()
    return "notes: " + ",".join(sorted(codes))


@Notes.bp.get("/<int:account_id>")
def note(account_id: int):
    return get_scoped_or_404(Account, account_id).client_code


class AdminTool:
    """An app reserved to organisation admins."""

    __name__ = "admintool"
    bp = Blueprint("admintool", __name__)

    @hookimpl
    def guichet_apps(self):
        return [
            App(
                key="admintool",
                name="Administration",
                endpoint="admintool.index",
                permissions=("admin",),
                default_enabled=False,
                blueprint=self.bp,
                url_prefix="/admintool",
                widgets=(
                    Widget("admintool.summary", title="Admin summary", endpoint="admintool.index"),
                ),
            )
        ]


@AdminTool.bp.get("/", endpoint="index")
def admin_index():
    return "admin tool"


class Broken:
    """Raises in every per-request hook: must be contained."""

    __name__ = "broken"

    @hookimpl
    def guichet_apps(self):
        return [App(key="broken", name="Broken", endpoint="portal.home")]

    @hookimpl
    def guichet_menu_items(self, user, organisation):
        raise RuntimeError("broken menu")

    @hookimpl
    def guichet_search(self, query, scope):
        raise RuntimeError("broken search")


class Misspelled:
    """A hook implementation whose name matches no specification."""

    __name__ = "misspelled"

    @hookimpl
    def guichet_menu_item(self, user, organisation):  # missing the final s
        return []


class DuplicateNotes:
    """Claims the app key of Notes."""

    __name__ = "duplicate_notes"

    @hookimpl
    def guichet_apps(self):
        return [App(key="notes", name="Other notes", endpoint="portal.home")]

    @hookimpl
    def guichet_search(self, query, scope):
        return [SearchResult("notes", "from the duplicate", "/")]


def account_ids(org) -> list[int]:
    return list(db.session.scalars(select(Account.id).where(Account.organisation_id == org.id)))


class Recording(ImportItem):
    """What the Recorder's import takes."""

    name: text_field(50, required=True)


class Recorder:
    """Records events and offers a widget and a CLI command."""

    __name__ = "recorder"
    events: list[tuple[str, dict]] = []
    ticks: list[int] = []
    recordings: list[str] = []
    demo: list[str] = []

    @hookimpl
    def guichet_apps(self):
        widgets = (
            Widget(key="recorder.last", title="Last", endpoint="portal.home"),
            Widget(key="recorder.foreign", app_key="notes", title="Not mine", endpoint="x"),
        )
        return [App(key="recorder", name="Recorder", endpoint="portal.home", widgets=widgets)]

    @hookimpl
    def guichet_actions(self, target):
        from core.appinfo import Action

        number = getattr(target, "number", None)
        if number is None:
            return []
        return [Action("recorder", f"Record {number}", f"/record/{number}", method="post")]

    @hookimpl
    def guichet_event(self, name, payload):
        self.events.append((name, payload))

    @hookimpl
    def guichet_tabs(self, app_key):
        from core.appinfo import MenuItem

        if app_key != "invoices":
            return []
        return [MenuItem("recorder", "", "Recorded", "portal.home", order=5)]

    @hookimpl
    def guichet_periodic_tasks(self):
        from huey import crontab

        from core.appinfo import PeriodicTask

        return [PeriodicTask("recorder.tick", crontab(minute="30"), lambda: self.ticks.append(1))]

    @hookimpl
    def guichet_cli(self, group):
        import click

        @group.command("recorder-hello")
        def hello():
            click.echo("hello from recorder")

    @hookimpl
    def guichet_operator_pages(self):
        from core.appinfo import OperatorPage

        return [OperatorPage("Recordings", "operator.audit_log")]

    @hookimpl
    def guichet_api_imports(self):
        from core.appinfo import ApiImport

        return [ApiImport("recordings", self.import_recordings, "Record names", Recording)]

    def import_recordings(self, items):
        from core.plugin_api import ImportResult, read_batch

        rows = read_batch(items, "recording", Recording, lambda item: {"name": item.name}, "name")
        self.recordings.extend(row["name"] for row in rows)
        return ImportResult(created=[row["name"] for row in rows])

    @hookimpl
    def guichet_demo_data(self, organisation):
        self.demo.append(organisation.name)
        return ["recorder: demo ready"]


class ManyWidgets:
    """One app with twelve widgets, for query counts and the dashboard grid."""

    __name__ = "many"
    bp = Blueprint("many", __name__)
    fail: set[str] = set()

    @hookimpl
    def guichet_apps(self):
        widgets = tuple(
            Widget(f"many.w{n:02d}", title=f"Widget {n:02d}", endpoint="many.widget")
            for n in range(12)
        )
        return [
            App(
                key="many",
                name="Many",
                endpoint="many.index",
                description="Twelve widgets",
                blueprint=self.bp,
                url_prefix="/many",
                widgets=widgets,
            )
        ]


@ManyWidgets.bp.get("/", endpoint="index")
def many_index():
    return "many"


@ManyWidgets.bp.get("/widget", endpoint="widget")
def many_widget():
    if "raise" in ManyWidgets.fail:
        raise RuntimeError("widget exploded")
    return "<p>widget content</p>"


class FromTheFuture:
    """Written for a plugin API this portal does not offer."""

    __name__ = "future"
    GUICHET_API = ">=4.0"

    @hookimpl
    def guichet_apps(self):
        return [App(key="future", name="Future", endpoint="portal.home")]


class Sloppy:
    """Returns what its hooks do not declare: a widget as a dict, a menu entry as text."""

    __name__ = "sloppy"

    @hookimpl
    def guichet_apps(self):
        widgets = ({"key": "sloppy.w", "app_key": "sloppy"}, Widget("sloppy.ok", title="OK"))
        return [App(key="sloppy", name="Sloppy", endpoint="portal.home", widgets=widgets)]

    @hookimpl
    def guichet_menu_items(self, user, organisation):
        return ["Mes brouillons", MenuItem("sloppy", "Services", "Sloppy", "portal.home")]


class MenuEditor:
    """A pluggy wrapper around the menu: it sees what the others return and changes
    it (it owns no app, so it is reached for every organisation)."""

    __name__ = "menu_editor"

    @hookimpl(wrapper=True)
    def guichet_menu_items(self, user, organisation):
        found = yield
        return [[item for items in found for item in items if item.label != "Mes notes"]]
