"""Sphinx configuration of the plugin guide (built by the test command with -W, so a
broken reference or directive fails CI): ``sphinx-build -W -b html docs docs/_build/html``."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

project = "Guichet plugin guide"
author = "The Guichet developers"
extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
html_theme = "alabaster"
html_static_path: list[str] = []

# autodoc reads the attributes of the model mixins, which SQLAlchemy warns about
import warnings  # noqa: E402

from sqlalchemy.exc import SAWarning  # noqa: E402

warnings.filterwarnings("ignore", category=SAWarning, message="Unmanaged access")
