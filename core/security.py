"""Security headers on every response, with a strict Content-Security-Policy
(no inline script or style anywhere in Guichet)."""

from __future__ import annotations

from flask import Flask, Response, g

DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
CSP = "; ".join(DIRECTIVES)


def allow_form_action(origin: str) -> None:
    """Let this page's forms lead to ``origin`` too (``https://www.example.com``): a
    form whose answer redirects to a payment provider's checkout needs it, since
    browsers apply ``form-action`` to the redirects that follow a submission."""
    g.setdefault("_form_actions", set()).add(origin)


def _policy() -> str:
    extra = sorted(g.get("_form_actions", ()))
    if not extra:
        return CSP
    directives = [
        f"form-action 'self' {' '.join(extra)}" if d == "form-action 'self'" else d
        for d in DIRECTIVES
    ]
    return "; ".join(directives)


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", _policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["HSTS"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if "Cache-Control" not in headers and response.mimetype == "text/html":
            headers["Cache-Control"] = "no-store"
        # Responses differ for HTMX requests: keep caches from mixing them up.
        response.vary.add("HX-Request")
        return response
