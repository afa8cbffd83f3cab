"""A local server speaking the part of Mollie's v2 API that Guichet uses, for the
tests and the demo: payments (create, get, list), refunds, methods, a checkout page
where one chooses how the payment ends, and webhook calls back to the portal; and for
automatic payment, customers, their SEPA Direct Debit mandates (the IBAN's checksum
checked, as Mollie does) and ``recurring`` payments on them, which stay ``pending``
until the "bank" answers (:meth:`LocalMollie.end`, with a reason when it refuses;
``settle_after`` seconds makes them paid by themselves, for the demo).

It answers in Mollie's shapes (``application/hal+json``, ``_links.checkout``,
``paidAt`` once paid, errors with ``status``, ``title``, ``detail`` and ``field``) and
honours ``Idempotency-Key``, so the real ``mollie-api-python`` client talks to it over
HTTP through its API-endpoint setting. State lives in memory.

Run it with ``guichet mollie serve`` (the README's run command does, when no Mollie
key is configured), or in a test::

    server = LocalMollie().start()
    app.config["MOLLIE_API_ENDPOINT"] = server.url
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from flask import Flask, Response, abort, redirect, render_template, request
from stdnum import iban as ibans
from stdnum.exceptions import ValidationError

from core.plugin_api import StandIn

LOCALES = {
    "en_US",
    "en_GB",
    "nl_NL",
    "nl_BE",
    "fr_FR",
    "fr_BE",
    "de_DE",
    "de_AT",
    "de_CH",
    "es_ES",
    "ca_ES",
    "pt_PT",
    "it_IT",
    "nb_NO",
    "sv_SE",
    "fi_FI",
    "da_DK",
    "is_IS",
    "hu_HU",
    "pl_PL",
    "lv_LV",
    "lt_LT",
}
METHODS = {
    "creditcard": ("Carte bancaire", "Card", "1.00", "10000.00"),
    "bancontact": ("Bancontact", "Bancontact", "0.02", "50000.00"),
    "banktransfer": ("Virement bancaire", "Bank transfer", "0.01", "1000000.00"),
}
ENDINGS = ("paid", "failed", "canceled", "expired")
DOCS = "https://docs.mollie.com/reference/handling-errors"


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.field = status, title, detail, field


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(8).replace("-", "x").replace("_", "y")


def _value(amount: Any, field: str, zero: bool = False) -> tuple[Decimal, str]:
    if not isinstance(amount, dict):
        raise ApiError(422, "Unprocessable Entity", "The amount is required", field)
    currency = amount.get("currency")
    value = amount.get("value")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        raise ApiError(422, "Unprocessable Entity", "The currency is invalid", f"{field}.currency")
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if number is None or number.as_tuple().exponent != -2 or number < 0 or not (number or zero):
        raise ApiError(
            422,
            "Unprocessable Entity",
            "The amount value must be a string with two decimals, above zero",
            f"{field}.value",
        )
    return number, currency


class LocalMollie(StandIn):
    """The server; :meth:`start` runs it in a thread. ``webhooks`` false keeps it from
    calling the portal (a test then posts the webhook itself)."""

    def __init__(
        self,
        api_key_prefix: str = "test_",
        webhooks: bool = True,
        settle_after: float | None = None,
    ):
        self.payments: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.mandates: dict[str, dict[str, dict[str, Any]]] = {}  # by customer, by id
        self.settle_after = settle_after
        self.refunds: dict[str, list[dict[str, Any]]] = {}
        self.replies: dict[str, str] = {}  # idempotency key -> the created object
        self.webhook_calls: list[tuple[str, int | str]] = []
        self.requests = 0
        self.api_key_prefix = api_key_prefix
        self.webhooks = webhooks
        self.lock = threading.RLock()
        self.app = self._make_app()

    # --- what a test or the checkout page does ------------------------------------

    def end(
        self,
        payment_id: str,
        status: str,
        call_webhook: bool | None = None,
        reason: tuple[str, str] | None = None,
    ) -> dict:
        """Move an open payment to ``status`` (paid, failed, canceled, expired, or
        pending) as the customer's choice (or the bank's, for a direct debit) would,
        and call its webhook. ``reason`` is the bank's (code, words) for a failed
        direct debit: ``("AM04", "Insufficient funds")``."""
        with self.lock:
            payment = self.payments[payment_id]
            if payment["status"] not in ("open", "pending"):
                raise ApiError(422, "Unprocessable Entity", "The payment is no longer open")
            payment["status"] = status
            if reason:
                payment["details"] = {
                    **(payment.get("details") or {}),
                    "bankReasonCode": reason[0],
                    "bankReason": reason[1],
                }
            if status in ENDINGS:
                payment[f"{status}At"] = _now()
                payment["isCancelable"] = False
                payment["_links"].pop("checkout", None)
            if status == "paid":
                payment["amountRefunded"] = {**payment["amount"], "value": "0.00"}
                payment["amountRemaining"] = dict(payment["amount"])
                payment["method"] = payment["method"] or "creditcard"
                if payment["sequenceType"] == "first":
                    self._card_mandate(payment)
        if self.webhooks if call_webhook is None else call_webhook:
            self.call_webhook(payment_id)
        return payment

    def charge_back(self, payment_id: str, value: str, call_webhook: bool | None = None) -> dict:
        """The customer's bank takes ``value`` (``"12.00"``) of a paid payment back."""
        with self.lock:
            payment = self.payments[payment_id]
            payment["amountChargedBack"] = {**payment["amount"], "value": value}
        if self.webhooks if call_webhook is None else call_webhook:
            self.call_webhook(payment_id)
        return payment

    def revoke(self, customer_id: str, mandate_id: str) -> dict:
        """The customer's bank revokes a mandate: it becomes ``invalid``."""
        with self.lock:
            mandate = self.mandates[customer_id][mandate_id]
            mandate["status"] = "invalid"
        return mandate

    def recurring(self) -> list[dict]:
        """The recurring payments created, oldest first."""
        with self.lock:
            return [p for p in self.payments.values() if p["sequenceType"] == "recurring"]

    def call_webhook(self, payment_id: str) -> int | str:
        """Post ``id=tr_…`` to the payment's webhook URL, as Mollie does."""
        url = self.payments[payment_id].get("webhookUrl")
        if not url:
            return "no webhook"
        try:
            answer: int | str = requests.post(url, data={"id": payment_id}, timeout=10).status_code
        except requests.RequestException as error:
            answer = str(error)
        self.webhook_calls.append((payment_id, answer))
        return answer

    # --- the API ------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask(__name__)
        app.config["MAX_CONTENT_LENGTH"] = 256 * 1024

        @app.errorhandler(ApiError)
        def api_error(error: ApiError):
            body = {
                "status": error.status,
                "title": error.title,
                "detail": error.detail,
                "_links": {"documentation": {"href": DOCS, "type": "text/html"}},
            }
            if error.field:
                body["field"] = error.field
            return self._json(body, error.status)

        @app.before_request
        def authenticate():
            self.requests += 1
            if not request.path.startswith("/v2/"):
                return None
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            # any key of the mode, as the client accepts them: test_ and letters or digits
            if not re.fullmatch(rf"{re.escape(self.api_key_prefix)}\w+", token):
                raise ApiError(
                    401, "Unauthorized Request", "Missing authentication, or failed to authenticate"
                )
            return None

        @app.post("/v2/payments")
        def create_payment():
            return self._once(lambda: self._public(self._new_payment(self._payload())))

        @app.get("/v2/payments/<payment_id>")
        def get_payment(payment_id):
            with self.lock:
                return self._json(self._public(self._find(payment_id)))

        @app.get("/v2/payments")
        def list_payments():
            limit = min(max(request.args.get("limit", 50, type=int), 1), 250)
            with self.lock:
                ids = sorted(
                    self.payments, key=lambda i: self.payments[i]["createdAt"], reverse=True
                )
            start = ids.index(request.args["from"]) if request.args.get("from") in ids else 0
            page = ids[start : start + limit]
            more = ids[start + limit : start + limit + 1]
            base = f"{self.url}/v2/payments"
            links = {
                "self": {"href": f"{base}?limit={limit}", "type": "application/hal+json"},
                "previous": None,
                "next": {
                    "href": f"{base}?from={more[0]}&limit={limit}",
                    "type": "application/hal+json",
                }
                if more
                else None,
                "documentation": {"href": DOCS, "type": "text/html"},
            }
            payments = [self._public(self.payments[i]) for i in page]
            return self._json(
                {"count": len(page), "_embedded": {"payments": payments}, "_links": links}
            )

        @app.delete("/v2/payments/<payment_id>")
        def cancel_payment(payment_id):
            self._find(payment_id)
            return self._json(self._public(self.end(payment_id, "canceled")))

        @app.post("/v2/payments/<payment_id>/refunds")
        def create_refund(payment_id):
            return self._once(lambda: self._new_refund(self._find(payment_id), self._payload()))

        @app.get("/v2/payments/<payment_id>/refunds")
        def list_refunds(payment_id):
            self._find(payment_id)
            refunds = self.refunds.get(payment_id, [])
            return self._json(
                {
                    "count": len(refunds),
                    "_embedded": {"refunds": refunds},
                    "_links": {"self": {"href": request.url}},
                }
            )

        @app.post("/v2/customers")
        def create_customer():
            return self._once(lambda: self._new_customer(self._payload()))

        @app.get("/v2/customers/<customer_id>")
        def get_customer(customer_id):
            with self.lock:
                return self._json(self._customer(customer_id))

        @app.post("/v2/customers/<customer_id>/mandates")
        def create_mandate(customer_id):
            self._customer(customer_id)
            return self._once(lambda: self._new_mandate(customer_id, self._payload()))

        @app.get("/v2/customers/<customer_id>/mandates/<mandate_id>")
        def get_mandate(customer_id, mandate_id):
            with self.lock:
                return self._json(self._mandate(customer_id, mandate_id))

        @app.get("/v2/customers/<customer_id>/mandates")
        def list_mandates(customer_id):
            self._customer(customer_id)
            mandates = list(self.mandates.get(customer_id, {}).values())
            return self._json(
                {
                    "count": len(mandates),
                    "_embedded": {"mandates": mandates},
                    "_links": {"self": {"href": request.url}},
                }
            )

        @app.delete("/v2/customers/<customer_id>/mandates/<mandate_id>")
        def revoke_mandate(customer_id, mandate_id):
            with self.lock:
                self._mandate(customer_id, mandate_id)["status"] = "invalid"
            return Response(status=204)

        @app.get("/v2/methods")
        def list_methods():
            locale = request.args.get("locale", "en_US")
            value = request.args.get("amount[value]")
            amount = Decimal(value) if value else None
            methods = []
            for key, (french, english, low, high) in METHODS.items():
                if amount is not None and not Decimal(low) <= amount <= Decimal(high):
                    continue
                methods.append(
                    {
                        "resource": "method",
                        "id": key,
                        "description": french if locale.startswith("fr") else english,
                        "minimumAmount": {"value": low, "currency": "EUR"},
                        "maximumAmount": {"value": high, "currency": "EUR"},
                        "image": {
                            "size1x": f"{self.url}/img/{key}.png",
                            "size2x": f"{self.url}/img/{key}%402x.png",
                            "svg": f"{self.url}/img/{key}.svg",
                        },
                        "status": "activated",
                        "_links": {"self": {"href": f"{self.url}/v2/methods/{key}"}},
                    }
                )
            return self._json(
                {
                    "count": len(methods),
                    "_embedded": {"methods": methods},
                    "_links": {"self": {"href": request.url}},
                }
            )

        # --- the checkout page, where the customer "pays" ---------------------------

        @app.route("/checkout/<payment_id>", methods=["GET", "POST"])
        def checkout(payment_id):
            payment = self.payments.get(payment_id)
            if payment is None:
                abort(404)
            if request.method == "POST":
                status = request.form.get("status")
                if status not in (*ENDINGS, "pending"):
                    abort(400)
                if payment["status"] in ("open", "pending"):
                    threading.Thread(target=self.end, args=(payment_id, status)).start()
                return redirect(payment["redirectUrl"], 303)
            return render_template(
                "mollie/checkout.html", payment=payment, endings=ENDINGS, methods=METHODS
            )

        return app

    # --- helpers ------------------------------------------------------------------

    def _once(self, create) -> Response:
        """Answer a creation once per ``Idempotency-Key``: the same key gets the same
        answer again, marked ``Idempotent-Replayed``, and creates nothing."""
        key = request.headers.get("Idempotency-Key", "")
        with self.lock:
            if key and key in self.replies:
                reply = Response(self.replies[key], 201, content_type="application/hal+json")
                reply.headers["Idempotent-Replayed"] = "true"
                return reply
            reply = self._json(create(), 201)
            if key:
                self.replies[key] = reply.get_data(as_text=True)
            return reply

    @staticmethod
    def _json(body: dict, status: int = 200) -> Response:
        return Response(json.dumps(body), status, content_type="application/hal+json")

    @staticmethod
    def _payload() -> dict:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request", "The request body is not a JSON object")
        return data

    def _find(self, payment_id: str) -> dict:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise ApiError(404, "Not Found", f"No payment exists with token {payment_id}.")
        return payment

    def _customer(self, customer_id: str) -> dict:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise ApiError(404, "Not Found", f"No customer exists with token {customer_id}.")
        return customer

    def _mandate(self, customer_id: str, mandate_id: str) -> dict:
        self._customer(customer_id)
        mandate = self.mandates.get(customer_id, {}).get(mandate_id)
        if mandate is None:
            raise ApiError(404, "Not Found", f"No mandate exists with token {mandate_id}.")
        return mandate

    def _new_customer(self, data: dict) -> dict:
        customer_id = _id("cst_")
        customer = {
            "resource": "customer",
            "id": customer_id,
            "mode": "test",
            "name": data.get("name"),
            "email": data.get("email"),
            "locale": data.get("locale"),
            "metadata": data.get("metadata"),
            "createdAt": _now(),
            "_links": {"self": {"href": f"{self.url}/v2/customers/{customer_id}"}},
        }
        self.customers[customer_id] = customer
        return customer

    def _new_mandate(self, customer_id: str, data: dict) -> dict:
        if data.get("method") != "directdebit":
            raise ApiError(422, "Unprocessable Entity", "The method is invalid", "method")
        name = data.get("consumerName")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(
                422, "Unprocessable Entity", "The consumer name is required", "consumerName"
            )
        try:
            account = ibans.validate(str(data.get("consumerAccount") or ""))
        except ValidationError:
            raise ApiError(
                422, "Unprocessable Entity", "The consumer account is invalid", "consumerAccount"
            ) from None
        mandate_id = _id("mdt_")
        mandate = {
            "resource": "mandate",
            "id": mandate_id,
            "mode": "test",
            "status": "valid",
            "method": "directdebit",
            "details": {
                "consumerName": name,
                "consumerAccount": account,
                "consumerBic": data.get("consumerBic") or "TESTNL2A",
            },
            "mandateReference": data.get("mandateReference"),
            "signatureDate": data.get("signatureDate"),
            "createdAt": _now(),
            "_links": {
                "self": {"href": f"{self.url}/v2/customers/{customer_id}/mandates/{mandate_id}"},
                "customer": {"href": f"{self.url}/v2/customers/{customer_id}"},
            },
        }
        self.mandates.setdefault(customer_id, {})[mandate_id] = mandate
        return mandate

    def _card_mandate(self, payment: dict) -> None:
        """A paid first payment leaves the test card it was paid with as a valid
        mandate of its customer, and names it (``mandateId``, the card's details)."""
        mandate_id = _id("mdt_")
        card = {
            "cardHolder": "T. Tester",
            "cardNumber": "6787",
            "cardLabel": "Mastercard",
            "cardFingerprint": secrets.token_hex(8),
            "cardExpiryDate": f"{datetime.now(UTC).year + 3}-12-31",
        }
        customer_id = payment["customerId"]
        self.mandates.setdefault(customer_id, {})[mandate_id] = {
            "resource": "mandate",
            "id": mandate_id,
            "mode": "test",
            "status": "valid",
            "method": "creditcard",
            "details": card,
            "mandateReference": None,
            "signatureDate": _now()[:10],
            "createdAt": _now(),
            "_links": {
                "self": {"href": f"{self.url}/v2/customers/{customer_id}/mandates/{mandate_id}"},
                "customer": {"href": f"{self.url}/v2/customers/{customer_id}"},
            },
        }
        payment["mandateId"] = mandate_id
        payment["details"] = {**(payment.get("details") or {}), **card}

    def _first(self, data: dict) -> dict:
        """What a ``first`` payment adds: the customer whose mandate the card paid with
        becomes (cards only here, as Mollie's card payments may be 0.00)."""
        customer_id = data.get("customerId")
        if not isinstance(customer_id, str) or customer_id not in self.customers:
            raise ApiError(422, "Unprocessable Entity", "The customer is invalid", "customerId")
        if data.get("method") not in (None, "creditcard"):
            raise ApiError(
                422,
                "Unprocessable Entity",
                "This stand-in takes first payments by card only",
                "method",
            )
        return {"customerId": customer_id, "method": "creditcard"}

    def _recurring(self, data: dict) -> dict:
        """What a ``recurring`` payment adds: the customer's valid mandate, charged
        without the customer, ``pending`` until the bank answers."""
        customer_id, mandate_id = data.get("customerId"), data.get("mandateId")
        if not isinstance(customer_id, str) or customer_id not in self.customers:
            raise ApiError(422, "Unprocessable Entity", "The customer is invalid", "customerId")
        mandate = self.mandates.get(customer_id, {}).get(mandate_id)
        if mandate is None or mandate["status"] != "valid":
            raise ApiError(
                422,
                "Unprocessable Entity",
                "The mandate is invalid or does not belong to this customer",
                "mandateId",
            )
        return {
            "customerId": customer_id,
            "mandateId": mandate_id,
            "method": mandate["method"],
            "status": "pending",
            "details": {  # who pays: the account's holder, or the card's
                key: value
                for key, value in mandate["details"].items()
                if key in ("consumerName", "cardHolder", "cardNumber", "cardLabel")
            },
        }

    def _new_payment(self, data: dict) -> dict:
        sequence = data.get("sequenceType", "oneoff")
        _value(data.get("amount"), "amount", zero=sequence == "first")
        description = data.get("description")
        if not isinstance(description, str) or not description.strip():
            raise ApiError(
                422, "Unprocessable Entity", "The description is required", "description"
            )
        if not isinstance(data.get("redirectUrl"), str) or "://" not in data["redirectUrl"]:
            raise ApiError(
                422, "Unprocessable Entity", "The redirect URL is invalid", "redirectUrl"
            )
        locale = data.get("locale")
        if locale is not None and locale not in LOCALES:
            raise ApiError(422, "Unprocessable Entity", "The locale is invalid", "locale")
        method = data.get("method")
        if method is not None and method not in METHODS:
            raise ApiError(
                422, "Unprocessable Entity", f"The payment method is invalid: {method}", "method"
            )
        if sequence not in ("oneoff", "first", "recurring"):
            raise ApiError(
                422, "Unprocessable Entity", "The sequence type is invalid", "sequenceType"
            )
        recurring = self._recurring(data) if sequence == "recurring" else {}
        first = self._first(data) if sequence == "first" else {}
        payment_id = _id("tr_")
        created = datetime.now(UTC).replace(microsecond=0)
        payment = {
            "resource": "payment",
            "id": payment_id,
            "mode": "test",
            "createdAt": created.isoformat(),
            "amount": {"currency": data["amount"]["currency"], "value": data["amount"]["value"]},
            "description": description,
            "method": method,
            "metadata": data.get("metadata"),
            "status": "open",
            "isCancelable": True,
            "expiresAt": (created + timedelta(minutes=15)).isoformat(),
            "profileId": "pfl_localGuichet",
            "sequenceType": sequence,
            "redirectUrl": data["redirectUrl"],
            "webhookUrl": data.get("webhookUrl"),
            "locale": locale,
            "_links": {
                "self": {
                    "href": f"{self.url}/v2/payments/{payment_id}",
                    "type": "application/hal+json",
                },
                "checkout": {"href": f"{self.url}/checkout/{payment_id}", "type": "text/html"},
                "dashboard": {"href": f"{self.url}/checkout/{payment_id}", "type": "text/html"},
                "documentation": {
                    "href": "https://docs.mollie.com/reference/create-payment",
                    "type": "text/html",
                },
            },
        }
        payment.update(first)
        if recurring:  # charged without the customer: no checkout page
            payment.update(recurring, isCancelable=False)
            del payment["_links"]["checkout"]
            if self.settle_after is not None:
                timer = threading.Timer(self.settle_after, self.end, (payment_id, "paid"))
                timer.daemon = True
                timer.start()
        self.payments[payment_id] = payment
        return payment

    def _new_refund(self, payment: dict, data: dict) -> dict:
        if payment["status"] != "paid":
            raise ApiError(422, "Unprocessable Entity", "The payment cannot be refunded", "amount")
        value, currency = _value(data.get("amount"), "amount")
        remaining = Decimal(payment["amountRemaining"]["value"])
        if currency != payment["amount"]["currency"] or value > remaining:
            raise ApiError(
                422,
                "Unprocessable Entity",
                "The amount is higher than the amount that can be refunded",
                "amount.value",
            )
        refunded = Decimal(payment["amountRefunded"]["value"]) + value
        payment["amountRefunded"]["value"] = f"{refunded:.2f}"
        payment["amountRemaining"]["value"] = f"{remaining - value:.2f}"
        refund = {
            "resource": "refund",
            "id": _id("re_"),
            "amount": {"currency": currency, "value": f"{value:.2f}"},
            "status": "pending",
            "createdAt": _now(),
            "description": str(data.get("description") or ""),
            "paymentId": payment["id"],
            "_links": {"payment": {"href": f"{self.url}/v2/payments/{payment['id']}"}},
        }
        self.refunds.setdefault(payment["id"], []).append(refund)
        return refund

    @staticmethod
    def _public(payment: dict) -> dict:
        return {k: v for k, v in payment.items() if v is not None or k == "method"}
