"""Security headers on every response, with a strict Content-Security-Policy
(no inline script or style anywhere in Guichet); throttles that hold in every process
serving the portal."""

from __future__ import annotations

import fcntl
import logging
import sys
from pathlib import Path

from flask import Flask, Response, g
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)
# gunicorn stops every worker, and itself, when one exits with this code at start-up
WORKER_BOOT_ERROR = 3
_held_locks: list = []

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
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # the client's address and scheme as the proxies in front say, never more hops
        # than configured: a header a client wrote itself is not believed
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

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


def claim_memory_limits(app: Flask) -> None:
    """Called by a process about to serve requests (``wsgi.py``). Rate limits kept in
    ``memory://`` are each process's own: with two processes (``gunicorn -w 2``) the
    login limit would let twice the attempts through. The first serving process of an
    instance holds a lock for its life; a second one refuses to start, and says why.
    A shared storage (``RATELIMIT_STORAGE_URI``, or ``REDIS_URL``) needs no lock."""
    if not app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        return
    handle = (Path(app.instance_path) / "ratelimit-memory.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        message = (
            "guichet: another process already serves this instance with rate limits kept "
            "in memory://, which processes do not share (the login limit would not hold). "
            "Run one worker, or set GUICHET_RATELIMIT_STORAGE_URI (or GUICHET_REDIS_URL) "
            "to a Redis every process uses."
        )
        log.critical(message)
        print(message, file=sys.stderr, flush=True)
        raise SystemExit(WORKER_BOOT_ERROR) from None
    _held_locks.append(handle)  # released when the process ends
