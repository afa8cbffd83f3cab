"""Document formats: the renderings apps give of their objects, through
``guichet_document_formats`` (the invoices app renders an invoice as PDF). Another app
asks for one with :func:`document_file`, so it never imports the app that makes it."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, send_file

from core.appinfo import DocumentFile, DocumentFormat
from core.appsystem import registry


class NoSuchFormat(LookupError):
    """No installed app renders this kind of object in this format."""


class FormatRefused(ValueError):
    """This object cannot be had in this format (an invoice without what a Factur-X
    needs): ``str(error)`` says why, naming what is missing, for the person who asked;
    ``missing`` lists it. A renderer raises it rather than give an invalid file."""

    def __init__(self, message: str, missing: list[str] | None = None):
        super().__init__(message)
        self.missing = missing or []


def document_formats(target: Any) -> list[DocumentFormat]:
    """The formats ``target`` (an object, or a class: those of any of its objects) can
    be had in, in the order the plugins give them (collected once per app)."""
    formats = current_app.extensions.get("guichet_formats")
    if formats is None:
        formats = registry(current_app).call("guichet_document_formats")
        current_app.extensions["guichet_formats"] = formats
    if isinstance(target, type):
        return [f for f in formats if issubclass(target, f.model)]
    return [f for f in formats if isinstance(target, f.model)]


def document_file(target: Any, key: str = "pdf") -> DocumentFile:
    """``target`` rendered in format ``key`` (``"pdf"``). Raises :class:`NoSuchFormat`
    when no installed app gives that format of such an object, :class:`FormatRefused`
    when this object cannot be had in it; whatever the format's renderer raises
    otherwise (the invoices app's ``IssuerIncomplete``, answered 503)."""
    for found in document_formats(target):
        if found.key == key:
            return found.render(target)
    raise NoSuchFormat(f"no {key!r} format for {type(target).__name__}")


def send_document(document: DocumentFile, attachment: bool = False) -> Response:
    """The answer that serves ``document`` under its file name (to save, with
    ``attachment``), revalidated on each use (ETag): its content may change with its
    object."""
    return send_file(
        document.path,
        mimetype=document.media_type,
        download_name=document.filename,
        as_attachment=attachment,
        max_age=0,
    )
