"""A local stand-in for an approved e-invoicing platform, for the tests and the demo:
it receives e-invoices and reports their lifecycle statuses over a small HTTP
protocol, which :class:`.platform.HttpPlatform` speaks. State lives in memory.

The protocol (JSON; every call sends ``Authorization: Bearer <key>``, a key starting
with ``test_`` here; errors answer ``{"detail": "..."}``):

``POST /v1/invoices`` with an ``Idempotency-Key`` header
    deposits an e-invoice: ``{"number", "kind", "flavor": "factur-x"|"ubl",
    "filename", "content": base64, "buyer": {"siren", "routing_id"}}``. Answers
    ``201 {"id": "PA-000001", "status": "200"}``, the same answer again (200) for a
    key already used, ``422`` when the file is not an e-invoice of that number (the
    platform rejects it), ``400`` without a key, ``401`` without a valid token.
``GET /v1/statuses?after=<cursor>``
    the statuses recorded after ``cursor`` (``0`` the first time), oldest first, a
    hundred at most: ``{"statuses": [{"id", "invoice", "number", "code", "date",
    "reason"}], "next": "<cursor>"}``. A deposit is ``200`` (Déposée) at once.
``POST /v1/invoices/<id>/statuses``
    what the buyer or the platform says next: ``{"code", "reason", "date"}``
    (``201``); the demo and the tests move invoices on with it.
``GET /v1/invoices/<id>``
    a deposit, with its statuses.

Run it with ``guichet einvoicing platform`` (the README's run command does, when no
platform is configured), or in a test::

    platform = LocalPlatform().start()
    app.config.update(EINVOICING_PLATFORM="http", EINVOICING_PLATFORM_URL=platform.url,
                      EINVOICING_PLATFORM_KEY="test_key")
"""

from __future__ import annotations

import base64
import binascii
import threading
from datetime import date
from typing import Any

from facturx import get_facturx_xml_from_pdf
from flask import Flask, jsonify, request
from lxml import etree

from core.plugin_api import StandIn

from .validation import NUMBER

FLAVORS = ("factur-x", "ubl")
PAGE = 100


class Refused(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class LocalPlatform(StandIn):
    """The server; :meth:`start` runs it in a thread. ``unavailable`` deposits in a row
    answer 503 first (a platform down for a while)."""

    def __init__(self, unavailable: int = 0):
        self.deposits: dict[str, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.replies: dict[str, dict[str, Any]] = {}  # idempotency key -> the answer
        self.unavailable = unavailable
        self.lock = threading.RLock()
        self.app = self._make_app()

    # --- what the platform (or the buyer through it) does -------------------------

    def add_status(self, deposit_id: str, code: str, reason: str = "", on: str = "") -> dict:
        with self.lock:
            deposit = self.deposits[deposit_id]
            status = {
                "id": len(self.statuses) + 1,
                "invoice": deposit_id,
                "number": deposit["number"],
                "code": code,
                "date": on or date.today().isoformat(),
                "reason": reason,
            }
            self.statuses.append(status)
            deposit["statuses"].append(status)
            return status

    def _deposit(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise Refused(400, "the body is a JSON object")
        number, flavor = body.get("number"), body.get("flavor")
        if not isinstance(number, str) or not number:
            raise Refused(400, "number is required")
        if flavor not in FLAVORS:
            raise Refused(400, f"flavor is one of {', '.join(FLAVORS)}")
        try:
            content = base64.b64decode(body.get("content") or "", validate=True)
        except (binascii.Error, ValueError):
            raise Refused(400, "content is base64") from None
        try:
            xml = (
                get_facturx_xml_from_pdf(content, check_xsd=False)[1]
                if flavor == "factur-x"
                else content
            )
            found = etree.fromstring(xml).xpath(NUMBER["ubl-2.1" if flavor == "ubl" else flavor])
        except Exception:  # noqa: BLE001 - whatever the file is, it is no e-invoice
            raise Refused(422, f"the file is not a {flavor} e-invoice") from None
        if found != number:
            raise Refused(422, f"the file is invoice {found or '(none)'}, not {number}")
        with self.lock:
            deposit_id = f"PA-{len(self.deposits) + 1:06d}"
            self.deposits[deposit_id] = {
                "id": deposit_id,
                "number": number,
                "flavor": flavor,
                "filename": body.get("filename", ""),
                "buyer": body.get("buyer") or {},
                "content": content,
                "statuses": [],
            }
        self.add_status(deposit_id, "200")
        return {"id": deposit_id, "status": "200"}

    def _make_app(self) -> Flask:
        app = Flask(__name__)
        platform = self

        @app.errorhandler(Refused)
        def refused(error: Refused):
            return jsonify(detail=error.detail), error.status

        @app.before_request
        def authorised():
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if not token.startswith("test_"):
                raise Refused(401, "a bearer token starting with test_ is required")

        @app.post("/v1/invoices")
        def deposit():
            key = request.headers.get("Idempotency-Key", "")
            if not key:
                raise Refused(400, "the Idempotency-Key header is required")
            with platform.lock:  # one deposit at a time: a key sent twice at once is one
                if key in platform.replies:
                    return jsonify(platform.replies[key]), 200
                if platform.unavailable > 0:
                    platform.unavailable -= 1
                    return jsonify(detail="unavailable, try again later"), 503
                answer = platform._deposit(request.get_json(silent=True))
                platform.replies[key] = answer
            return jsonify(answer), 201

        @app.get("/v1/invoices/<deposit_id>")
        def one(deposit_id: str):
            deposit = platform.deposits.get(deposit_id)
            if deposit is None:
                raise Refused(404, "no such invoice")
            return jsonify({k: v for k, v in deposit.items() if k != "content"})

        @app.post("/v1/invoices/<deposit_id>/statuses")
        def add(deposit_id: str):
            body = request.get_json(silent=True) or {}
            if deposit_id not in platform.deposits:
                raise Refused(404, "no such invoice")
            if not str(body.get("code", "")).isdigit():
                raise Refused(400, "code is a status code: 207")
            status = platform.add_status(
                deposit_id, str(body["code"]), body.get("reason", ""), body.get("date", "")
            )
            return jsonify(status), 201

        @app.get("/v1/statuses")
        def statuses():
            after = request.args.get("after", "0")
            if not after.isdigit():
                raise Refused(400, "after is a cursor this platform gave")
            found = platform.statuses[int(after) : int(after) + PAGE]
            return jsonify(statuses=found, next=str(found[-1]["id"] if found else after))

        return app
