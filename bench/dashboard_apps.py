"""The two WSGI apps the dashboard bench serves under gunicorn: the portal with a
twelve-widget plugin (``portal``), and a bare Flask app rendering a template of the
same size (``bare``). Both read ``GUICHET_BENCH_DIR``."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Flask, render_template

from core import create_app
from core.appinfo import App, Widget
from core.hookspecs import hookimpl

BENCH_DIR = Path(os.environ.get("GUICHET_BENCH_DIR", "/tmp/guichet-bench"))
SECRET = "bench-secret"


class TwelveWidgets:
    """An app with twelve small widgets."""

    __name__ = "bench_widgets"
    bp = Blueprint("benchw", __name__)

    @hookimpl
    def guichet_apps(self):
        widgets = tuple(
            Widget(f"benchw.w{n:02d}", title=f"Widget {n:02d}", endpoint="benchw.widget")
            for n in range(12)
        )
        return [
            App(
                key="benchw",
                name="Bench",
                endpoint="benchw.index",
                blueprint=self.bp,
                url_prefix="/bench",
                widgets=widgets,
            )
        ]


@TwelveWidgets.bp.get("/", endpoint="index")
def bench_index():
    return "bench"


@TwelveWidgets.bp.get("/widget", endpoint="widget")
def bench_widget():
    return "<p>42</p>"


def make_portal() -> Flask:
    return create_app(
        {
            "INSTANCE_PATH": str(BENCH_DIR),
            "SQLALCHEMY_DATABASE_URI": os.environ.get(
                "GUICHET_BENCH_DATABASE_URL", f"sqlite:///{BENCH_DIR}/bench.db"
            ),
            "EXTRA_PLUGINS": [TwelveWidgets()],
            "SECRET_KEY": SECRET,
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )


def make_bare() -> Flask:
    """A bare Flask route rendering a template as large as the dashboard page."""
    bare = Flask(__name__, template_folder=str(BENCH_DIR))

    @bare.get("/")
    def page():
        return render_template("bare.html", title="Tableau de bord")

    return bare


portal = make_portal() if os.environ.get("GUICHET_BENCH_APP") == "portal" else None
bare = make_bare() if os.environ.get("GUICHET_BENCH_APP") == "bare" else None
