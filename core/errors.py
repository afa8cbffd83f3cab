"""Error pages in the portal's style; HTMX requests get the message alone."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError
from werkzeug.http import HTTP_STATUS_CODES

from core.i18n import lazy_gettext as _l
from core.storage import DocumentMissing, StorageError

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You are not allowed to do this."),
    404: _l("This page does not exist, or you do not have access to it."),
    405: _l("This action is not possible here."),
    413: _l("The data sent is too large."),
    429: _l("Too many attempts. Please wait a few minutes before trying again."),
    500: _l("Something went wrong on our side. The error has been logged."),
}
STORAGE_DOWN = _l("The document storage cannot be reached. Please try again in a few minutes.")


def error_response(code: int, message=None):
    if request.path.startswith("/api/"):  # machines get JSON, in English
        return jsonify(error=str(message or HTTP_STATUS_CODES.get(code, "Error"))), code
    message = message or MESSAGES.get(code, MESSAGES[400])
    # a fragment for a part of a page; a boosted navigation gets the whole page
    template = "error_fragment.html" if request.htmx and not request.htmx.boosted else "error.html"
    return render_template(template, code=code, message=message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if not current_user.is_authenticated and request.blueprint != "auth":
            # The session expired (and its CSRF token with it): log in again first.
            return current_app.login_manager.unauthorized()
        return error_response(
            400,
            _l("The form has expired or was not sent from Guichet. Reload the page and try again."),
        )

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError):
        # A Host outside TRUSTED_HOSTS: no page of ours, no link built on that host.
        return (
            "Unknown host: this portal answers on its own address only.\n",
            400,
            {"Content-Type": "text/plain; charset=utf-8"},
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        # A view's own message (``abort(400, "...")``) wins over the generic one.
        custom = error.description if error.description != type(error).description else None
        return error_response(error.code, custom)

    @app.errorhandler(StorageError)
    def storage_error(error: StorageError):
        # S3 unreachable, refusing, a damaged file: nothing was sent, nothing half-kept
        log.error("document storage on %s %s: %s", request.method, request.path, error)
        api = request.path.startswith("/api/")  # machines get English
        return error_response(503, "The document storage is unavailable." if api else STORAGE_DOWN)

    @app.errorhandler(DocumentMissing)
    def document_missing(error: DocumentMissing):
        log.error("document %s is not in the document storage (%s)", error, request.path)
        return error_response(404)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(InternalServerError.code)
