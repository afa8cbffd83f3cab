"""Built-in app "Mon compte": the user's profile, password and language."""

from __future__ import annotations

from core.plugin_api import App, MenuItem, Widget, hookimpl
from core.plugin_api import lazy_gettext as _l

from .views import bp

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

SECTION = _l("My account")
APP = App(
    key="account",
    name=_l("My account"),
    endpoint="account.profile",
    description=_l("Your profile, password and language."),
    icon="user",
    section=SECTION,
    blueprint=bp,
    url_prefix="/mon-compte",
    widgets=(Widget("account.summary", title=_l("My account"), endpoint="account.widget"),),
    menu=(
        MenuItem(label=_l("My profile"), order=900),
        MenuItem(label=_l("Change my password"), endpoint="account.password", order=901),
    ),
)


@hookimpl
def guichet_apps():
    return [APP]
