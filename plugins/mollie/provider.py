"""The Mollie payment provider, on the official ``mollie-api-python`` client."""

from __future__ import annotations

import os
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import requests
from mollie.api.client import Client
from mollie.api.error import Error, RequestError, ResponseError, ResponseHandlingError
from mollie.api.objects.customer import Customer
from mollie.api.resources.mandates import CustomerMandates
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from core.plugin_api import (
    Method,
    PaymentError,
    PaymentProvider,
    RemoteMandate,
    RemotePayment,
    Setting,
)

METHODS_TTL = 600  # seconds the list of methods is kept


def mollie_amount(cents: int, currency: str) -> dict[str, str]:
    """Mollie's amount object: ``{"currency": "EUR", "value": "12.30"}``."""
    return {"currency": currency, "value": f"{Decimal(cents) / 100:.2f}"}


def cents(amount: dict | None) -> int:
    """Cents from Mollie's amount object (``None`` counts as zero)."""
    return int(Decimal(amount["value"]) * 100) if amount else 0


def _error(error: Error) -> PaymentError:
    if isinstance(error, ResponseError):
        retry = error.status is None or error.status >= 500 or error.status == 429
        return PaymentError(str(error), field=error.field, retry=retry)
    # no answer, or one that is not Mollie's JSON: worth trying again later
    retry = isinstance(error, RequestError | ResponseHandlingError)
    return PaymentError(f"Mollie could not be reached: {error}", retry=retry)


def http_session(endpoint: str, retries: int) -> requests.Session:
    """The HTTP session of one Mollie client. It reads the environment's proxy and
    certificate settings (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...) once,
    here, where ``requests`` by default reads them again on every call (about half a
    millisecond each, a webhook's largest cost outside the database). Connections that
    fail are retried like the client's own session does."""
    session = requests.Session()
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(endpoint)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.verify = bundle or True
    retry = Retry(connect=retries, read=0, backoff_factor=1)
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


class MollieClient(Client):
    """``mollie-api-python``'s client on a session of ours (:func:`http_session`). The
    library offers no public way to pass one: it makes its own on the first call
    unless ``_client`` is set already, which is what this relies on (tested in
    ``tests/test_payments.py``, so a release that changes it fails there)."""

    def __init__(self, api_endpoint: str = "", retry: int = 2) -> None:
        super().__init__(api_endpoint=api_endpoint, retry=retry)
        self._client = http_session(self.api_endpoint, retry)


class MollieProvider(PaymentProvider):
    """Payments through Mollie (cards, Bancontact, bank transfer, ... as the Mollie
    account offers them). ``MOLLIE_API_ENDPOINT`` points the client at another server
    speaking Mollie's API, such as the local one of :mod:`plugins.mollie.local_api`."""

    key = "mollie"
    name = "Mollie"
    settings = (
        Setting("MOLLIE_API_KEY", "The API key of the Mollie profile: test_… or live_…"),
        Setting("MOLLIE_API_ENDPOINT", "Another server speaking Mollie's API", required=False),
    )

    def __init__(self, config):
        super().__init__(config)
        self._local = threading.local()  # requests' sessions are not shared across threads
        self._methods: dict[tuple, tuple[float, list[Method]]] = {}

    @property
    def test_mode(self) -> bool:
        return not str(self.config.get("MOLLIE_API_KEY", "")).startswith("live_")

    @property
    def checkout_origin(self) -> str:
        endpoint = self.config.get("MOLLIE_API_ENDPOINT")
        if endpoint:
            parts = urlsplit(endpoint)
            return f"{parts.scheme}://{parts.netloc}"
        return "https://www.mollie.com"

    @property
    def client(self) -> Client:
        """This thread's client, made again when the settings change."""
        settings = (self.config.get("MOLLIE_API_ENDPOINT") or "", self.config["MOLLIE_API_KEY"])
        if getattr(self._local, "settings", None) != settings:
            client = MollieClient(api_endpoint=settings[0])
            client.set_api_key(settings[1])
            client.set_user_agent_component("Guichet", "1")
            self._local.client, self._local.settings = client, settings
        return self._local.client

    def methods(self, amount, currency, locale):
        key = (amount, currency, locale)
        cached = self._methods.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            found = self.client.methods.list(amount=mollie_amount(amount, currency), locale=locale)
        except Error:
            return []  # the checkout then offers Mollie's own choice
        methods = [Method(m.id, m.description, m.image_svg) for m in found]
        self._methods[key] = (time.monotonic() + METHODS_TTL, methods)
        return methods

    def create(self, request):
        data = {
            "amount": mollie_amount(request.amount, request.currency),
            "description": request.description,
            "redirectUrl": request.return_url,
            "webhookUrl": request.webhook_url,
            "locale": request.locale,
            "metadata": {**request.metadata, "reference": request.reference},
        }
        if request.method:
            data["method"] = request.method
        if request.sequence != "oneoff":
            data.update(sequenceType=request.sequence, customerId=request.customer_id)
        if request.mandate_id:
            data["mandateId"] = request.mandate_id
        try:
            payment = self.client.payments.create(data, idempotency_key=request.idempotency_key)
        except Error as error:
            raise _error(error) from error
        return self._remote(payment)

    def fetch(self, payment_id):
        try:
            payment = self.client.payments.get(payment_id)
        except Error as error:
            raise _error(error) from error
        return self._remote(payment)

    def refund(self, payment_id, amount, currency, description, idempotency_key):
        try:
            refund = self.client.payments.get(payment_id).refunds.create(
                {"amount": mollie_amount(amount, currency), "description": description},
                idempotency_key=idempotency_key,
            )
        except Error as error:
            raise _error(error) from error
        return refund.id

    @property
    def recurring(self) -> bool:
        return True

    def create_customer(self, name, email, reference, idempotency_key):
        data = {"name": name, "email": email, "metadata": {"reference": reference}}
        try:
            return self.client.customers.create(data, idempotency_key=idempotency_key).id
        except Error as error:
            raise _error(error) from error

    def _mandates(self, customer_id: str) -> CustomerMandates:
        return CustomerMandates(self.client, Customer({"id": customer_id}, self.client))

    def create_mandate(self, customer_id, request, idempotency_key):
        data = {
            "method": "directdebit",
            "consumerName": request.signatory,
            "consumerAccount": request.iban,
            "signatureDate": request.signed_on.isoformat(),
            "mandateReference": request.reference,
        }
        if request.bic:
            data["consumerBic"] = request.bic
        try:
            mandate = self._mandates(customer_id).create(data, idempotency_key=idempotency_key)
        except Error as error:
            raise _error(error) from error
        return _mandate(mandate)

    def fetch_mandate(self, customer_id, mandate_id):
        try:
            return _mandate(self._mandates(customer_id).get(mandate_id))
        except Error as error:
            raise _error(error) from error

    def revoke_mandate(self, customer_id, mandate_id):
        try:
            self._mandates(customer_id).delete(mandate_id)
        except Error as error:
            raise _error(error) from error

    @staticmethod
    def _remote(payment) -> RemotePayment:
        paid_at = payment.paid_at
        return RemotePayment(
            id=payment.id,
            status=payment.status,
            amount=cents(payment.amount),
            currency=payment.amount["currency"],
            metadata=payment.metadata or {},
            checkout_url=payment.checkout_url,
            refunded=cents(payment.amount_refunded),
            charged_back=cents(payment.amount_chargedback),
            method=payment.method,
            paid_at=datetime.fromisoformat(paid_at) if paid_at else None,
            failure=(payment.details or {}).get("bankReason", "") if payment.is_failed() else "",
            mandate=_left_mandate(payment),
        )


def _left_mandate(payment) -> RemoteMandate | None:
    """The mandate a paid first payment left: the card (or account) it was paid with,
    described from the payment's own details (no second request)."""
    if not (payment.is_paid() and payment.has_sequence_type_first() and payment.mandate_id):
        return None
    details = payment.details or {}
    method = "creditcard" if payment.method == "creditcard" else "directdebit"
    return RemoteMandate(
        id=payment.mandate_id,
        status="valid",
        method=method,
        account=_account(details),
        signatory=details.get("cardHolder") or details.get("consumerName") or "",
        signed_on=date.today(),
    )


def _account(details: dict) -> str:
    """An account or card shown by its first and last characters only."""
    account = details.get("consumerAccount") or ""
    if account:
        return f"{account[:4]} •••• {account[-4:]}"
    if details.get("cardNumber"):
        label = details.get("cardLabel") or ""
        return f"{label} •••• {details['cardNumber'][-4:]}".strip()
    return ""


def _mandate(mandate) -> RemoteMandate:
    """Our view of Mollie's mandate: the account shown by its first and last digits."""
    details = mandate.details or {}
    signed = mandate.signature_date
    return RemoteMandate(
        id=mandate.id,
        status=mandate.status,
        method=mandate.method,
        account=_account(details),
        signatory=details.get("consumerName") or details.get("cardHolder") or "",
        signed_on=date.fromisoformat(signed) if signed else None,
        reference=mandate.mandate_reference or "",
    )
