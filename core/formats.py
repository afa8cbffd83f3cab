"""Document formats: the renderings apps give of their objects, through
``guichet_document_formats`` (the invoices app renders an invoice as PDF). Another app
asks for one with :func:`document_file`, so it never imports the app that makes it."""

from __future__ import annotations

import io
from typing import Any

from flask import Response, current_app, redirect, send_file

from core.appinfo import DocumentFile, DocumentFormat
from core.appsystem import registry
from core.storage import storage


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
    object. From the local folder, the file itself; from object storage, a stream of
    it, or a redirect to a signed URL when ``STORAGE_SIGNED_URLS`` is set. A document
    kept under its SHA-256 is checked before it leaves (served from memory: such
    documents are at most 20 MB)."""
    store = storage()
    url = store.signed_url(document.key, document.filename, document.media_type, attachment)
    if url:
        return redirect(url)
    options = {
        "mimetype": document.media_type,
        "download_name": document.filename,
        "as_attachment": attachment,
        "max_age": 0,
    }
    if document.sha256:
        return send_file(io.BytesIO(document.read()), etag=document.sha256, **options)
    path = store.local_path(document.key)
    if path is not None:
        if not path.is_file():
            store.open(document.key)  # DocumentMissing, or why it cannot be read
        return send_file(path, **options)
    stream, size = store.open(document.key)
    response = send_file(stream, etag=document.key.rpartition("/")[2], **options)
    response.content_length = size
    return response
