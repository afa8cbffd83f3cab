"""Checks on the HTML pages send, that a browser would only show as a broken page."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
OWN_REQUEST = ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "hx-target")


class _Inheritance(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if (tag == "a" and "href" in attributes) or tag == "form":
            boosted = all(a.get("hx-boost") != "false" for _, a in self.stack)
            boosted = boosted and attributes.get("hx-boost") != "false"
            own = any(name in attributes for name in OWN_REQUEST)
            inherited = [a for _, a in self.stack if "hx-target" in a]
            if boosted and not own and inherited and "download" not in attributes:
                where = inherited[-1].get("id") or inherited[-1].get("class") or "?"
                what = attributes.get("href") or attributes.get("action") or tag
                self.found.append(f"<{tag} {what}> inherits hx-target from {where}")
        if tag not in VOID:
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return


def boosted_links_inheriting_a_target(html: str) -> list[str]:
    """Boosted links and forms (a full page's navigation) that would inherit an
    ``hx-target`` from an element around them, and so swap a whole page into it."""
    parser = _Inheritance()
    parser.feed(html)
    return parser.found
