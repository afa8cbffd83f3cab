"""The provider's import API under ``/api/v1``: bearer tokens issued by operators, JSON
in and out, batch imports contributed by the core and the plugins
(``guichet_api_imports``), and the OpenAPI document that describes them.

Every answer is JSON, errors included: ``{"error": "...", "faults": [...]}``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, request
from flask_babel import force_locale
from sqlalchemy import select

from core import audit
from core.appinfo import ApiImport
from core.appsystem import Registry
from core.directory_import import AccountItem, import_accounts
from core.extensions import csrf, db, limiter
from core.formats import FormatRefused, NoSuchFormat, document_file, send_document
from core.import_items import json_schema
from core.importing import ImportRejected
from core.models import ApiToken, utcnow

PREFIX = "/api/v1"
TOKEN_PREFIX = "gch_"
VERSION = "1.0.0"

CORE_IMPORTS = [
    ApiImport(
        "accounts",
        import_accounts,
        "Create or update accounts and their organisations",
        AccountItem,
    )
]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(name: str) -> tuple[ApiToken, str]:
    """A new token named ``name``; the clear value is returned once and never stored."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name.strip()[:100] or "API", token_hash=hash_token(clear))
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.issue", f"api_token:{token.id}", after={"name": token.name})
    return token, clear


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("api_token.revoke", f"api_token:{token.id}", before={"name": token.name})


def _authenticate() -> ApiToken:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    token = None
    if scheme.lower() == "bearer" and value.strip():
        token = db.session.scalar(
            select(ApiToken).where(ApiToken.token_hash == hash_token(value.strip()))
        )
    if token is None or token.revoked_at is not None:
        abort(401, "a valid bearer token is required (Authorization: Bearer <token>)")
    return token


RATE_LIMITED = "too many calls with this token (API_RATE_LIMIT); wait, then retry"
AUTH_LIMITED = "too many calls without a valid token from this address; wait, then retry"


def _rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def _auth_failure_limit() -> str:
    return current_app.config["API_AUTH_FAILURE_LIMIT"]


def _address() -> str:
    return "api-auth:" + (request.remote_addr or "")


def _unauthenticated(response) -> bool:
    return response.status_code == 401


def _caller() -> str:
    """Whom the rate limit counts: the bearer token (each integration has its own
    allowance), else the address."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "api:" + hash_token(value.strip())
    return "api:" + (request.remote_addr or "")


def _import_view(spec: ApiImport):
    def view():
        return _run_import(spec)

    view.__name__ = f"import_{spec.name}"
    return view


def _run_import(spec: ApiImport):
    token = _authenticate()
    request.max_content_length = current_app.config["API_MAX_CONTENT_LENGTH"]
    if not request.is_json:
        abort(415, "send JSON (Content-Type: application/json)")
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        abort(400, "the JSON is nested too deeply")
    if body is None:
        abort(400, "the body is not valid JSON")
    items = body.get(spec.name) if isinstance(body, dict) else body
    if not isinstance(items, list):
        abort(400, f'send a list, or an object with a "{spec.name}" list')
    token.last_used_at = utcnow()
    try:
        result = spec.importer(items)
    except ImportRejected as rejected:
        db.session.rollback()
        return jsonify(
            error=f"rejected: {len(rejected.faults)} fault(s); nothing was imported",
            faults=[f.as_dict() for f in rejected.faults],
        ), 422
    db.session.commit()  # the token's last use, when the import changed nothing
    return jsonify(result.as_dict())


def _document_view(spec: ApiImport):
    def view(key: str, format_key: str):
        token = _authenticate()
        target = spec.find(key)
        if target is None:
            abort(404, f"no such {spec.name} item: {key}")
        try:
            with force_locale("en"):  # machines are answered in English
                document = document_file(target, format_key)
        except NoSuchFormat:
            abort(404, f"no {format_key!r} format for {spec.name}")
        except FormatRefused as refused:
            abort(409, str(refused))
        token.last_used_at = utcnow()
        db.session.commit()
        return send_document(document, attachment=True)

    view.__name__ = f"document_{spec.name}"
    return view


def init_app(app: Flask, registry: Registry) -> None:
    """Register the API blueprint with the core's imports and the plugins'."""
    app.config.setdefault("API_MAX_CONTENT_LENGTH", 64 * 1024 * 1024)
    app.config.setdefault("API_RATE_LIMIT", "120 per minute")
    app.config.setdefault("API_AUTH_FAILURE_LIMIT", "20 per 15 minutes")
    # The same callables for every app, so that Flask-Limiter (one for the process)
    # keeps one limit per import however many apps are made (tests make many).
    per_token = limiter.limit(_rate_limit, key_func=_caller, error_message=RATE_LIMITED)
    # wrong tokens, counted by address: guessing one is as slow as guessing a password
    per_address = limiter.limit(
        _auth_failure_limit,
        key_func=_address,
        deduct_when=_unauthenticated,
        error_message=AUTH_LIMITED,
    )

    def throttled(view):
        return per_address(per_token(view))

    imports: dict[str, ApiImport] = {}
    for item in CORE_IMPORTS + registry.call("guichet_api_imports"):
        if isinstance(item, ApiImport) and item.name not in imports:
            imports[item.name] = item
        else:
            app.logger.error("API import %r ignored (not an ApiImport, or a duplicate)", item)
    bp = Blueprint("api", __name__, url_prefix=PREFIX)
    bp.add_url_rule("/openapi.json", "openapi", lambda: jsonify(openapi(imports)))
    for name, spec in imports.items():
        view = throttled(_import_view(spec))
        bp.add_url_rule(f"/{name}", f"import_{name}", view, methods=["POST"])
        if spec.find is not None:
            bp.add_url_rule(
                f"/{name}/<key>/<format_key>", f"document_{name}", throttled(_document_view(spec))
            )
    csrf.exempt(bp)
    app.register_blueprint(bp)


def openapi(imports: dict[str, ApiImport]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    error = {"$ref": "#/components/schemas/Error"}
    paths, schemas = {}, {}
    for name, spec in imports.items():
        items = {"type": "array", "items": json_schema(spec.item_model, schemas)}
        paths[f"/{name}"] = {
            "post": {
                "operationId": f"import_{name}",
                "summary": spec.summary,
                "description": "Idempotent, keyed by the provider's numbers: the same data "
                "sent twice changes nothing. The batch is checked whole; any fault rejects "
                "it and nothing is written.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    items,
                                    {
                                        "type": "object",
                                        "required": [name],
                                        "properties": {name: items},
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json("What was created, updated or left unchanged", "ImportResult"),
                    "400": _json("The body is not a list of items", "Error"),
                    "401": _json("No valid bearer token", "Error"),
                    "413": _json("The body is too large", "Error"),
                    "415": _json("The body is not JSON", "Error"),
                    "422": {
                        "description": "Rejected whole; each fault names its item and field",
                        "content": {"application/json": {"schema": error}},
                    },
                    "429": _json("Too many requests with this token: wait, then retry", "Error"),
                },
            }
        }
        if spec.find is not None:
            paths[f"/{name}/{{key}}/{{format}}"] = _document_path(name)
    keys = {"type": "array", "items": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Guichet import API",
            "version": VERSION,
            "description": "The provider's billing system pushes accounts, contracts, "
            "invoices and more into Guichet. Tokens are issued by operators.",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **schemas,  # the items' nested models (an invoice's Line...)
                "ImportResult": {
                    "type": "object",
                    "properties": {"created": keys, "updated": keys, "unchanged": keys},
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "faults": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "row": {"type": "integer"},
                                    "field": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    }


def _document_path(name: str) -> dict[str, Any]:
    """The OpenAPI operation of ``GET /<name>/{key}/{format}``."""
    text = {"in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "get": {
            "operationId": f"document_{name}",
            "summary": f"One of the {name}' documents: pdf, facturx (Factur-X), ubl...",
            "parameters": [{"name": "key", **text}, {"name": "format", **text}],
            "responses": {
                "200": {
                    "description": "The file",
                    "content": {"application/pdf": {}, "application/xml": {}},
                },
                "401": _json("No valid bearer token", "Error"),
                "404": _json("No such item, or no such format for it", "Error"),
                "409": _json("This item cannot be had in this format: the error says why", "Error"),
                "429": _json("Too many requests with this token: wait, then retry", "Error"),
            },
        }
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
