"""One URL, two renderings: the full page for a normal request, a block of the same
template for an HTMX request that targets part of the page."""

from __future__ import annotations

from flask import render_template, request
from jinja2_fragments.flask import render_block


def render(template: str, block: str = "content", **context) -> str:
    """Render ``template``; an HTMX request (not a boosted navigation) gets ``block``."""
    if request.htmx and not request.htmx.boosted:
        return render_block(template, block, **context)
    return render_template(template, **context)


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else ``None`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
