"""``guichet plugin new NAME``: a complete, installable plugin package whose own tests
pass straight away (an app with a page, a form, a model and its migration, a menu
entry, a widget, and tests with the fixtures Guichet ships).

The files come from ``template/`` (each named ``*.tmpl`` there): ``$key``,
``$package``, ``$distribution``, ``$title`` and ``$api_range`` are filled in, and the
``package`` folders take the package's name.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from packaging.version import Version

from core.appsystem import API_VERSION

TEMPLATE = Path(__file__).parent / "template"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
TAKEN = {"core", "plugins", "tests", "static", "operator", "api", "guichet"}


class ScaffoldError(ValueError):
    """The name or the destination cannot be used (the message says why)."""


def new_plugin(name: str, directory: Path) -> Path:
    """Write the package ``guichet-NAME`` into ``directory`` and return its folder."""
    if not NAME_RE.match(name):
        raise ScaffoldError(
            f"{name!r} is not a usable name: 2 to 31 lowercase letters, digits or "
            "underscores, starting with a letter (it becomes the app key and the package)"
        )
    if name in TAKEN:
        raise ScaffoldError(f"{name!r} is a name Guichet uses itself; choose another")
    target = Path(directory) / f"guichet-{name.replace('_', '-')}"
    if target.exists():
        raise ScaffoldError(f"{target} exists already; nothing was written")
    major = Version(API_VERSION).major
    values = {
        "key": name,
        "package": f"guichet_{name}",
        "distribution": f"guichet-{name.replace('_', '-')}",
        "title": name.replace("_", " ").capitalize(),
        "api_range": f">={API_VERSION},<{major + 1}",
    }
    for source in sorted(TEMPLATE.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(TEMPLATE).as_posix().removesuffix(".tmpl")
        relative = relative.replace("package", values["package"])
        relative = relative.replace(f"templates/{values['package']}", f"templates/{name}")
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(Template(source.read_text()).substitute(values))
    return target
