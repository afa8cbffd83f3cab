"""``HttpPlatform``: an approved platform reached over the small HTTP protocol that
:mod:`.local_platform` documents and serves (the stand-in for the tests and the
demo). A real platform's API is its own: its plugin subclasses
:class:`~core.plugin_api.EinvoicingPlatform` the same way.

Configuration: ``EINVOICING_PLATFORM = "http"``, ``EINVOICING_PLATFORM_URL`` and
``EINVOICING_PLATFORM_KEY`` (the bearer token the platform gave)."""

from __future__ import annotations

import base64
from datetime import date

import requests

from core.plugin_api import Deposit, EinvoicingPlatform, PlatformError, PlatformStatus, Setting

TIMEOUT = (5, 30)  # seconds to connect, to read


class HttpPlatform(EinvoicingPlatform):
    key, name = "http", "Plateforme agréée (HTTP)"
    settings = (
        Setting("EINVOICING_PLATFORM_URL", "The platform's API address"),
        Setting("EINVOICING_PLATFORM_KEY", "The bearer token the platform gave"),
    )

    def _call(self, method: str, path: str, **kwargs) -> dict:
        url = self.config["EINVOICING_PLATFORM_URL"].rstrip("/") + path
        headers = {"Authorization": f"Bearer {self.config['EINVOICING_PLATFORM_KEY']}"}
        headers.update(kwargs.pop("headers", {}))
        try:
            answer = requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            reason = f"the platform cannot be reached ({type(error).__name__})"
            raise PlatformError(reason, retry=True) from error
        if answer.status_code >= 500 or answer.status_code == 429:
            raise PlatformError(f"the platform answered {answer.status_code}", retry=True)
        try:
            body = answer.json()
        except ValueError:
            reason = f"the platform answered {answer.status_code}, not JSON"
            raise PlatformError(reason, retry=True) from None
        if answer.status_code >= 400:
            detail = body.get("detail") if isinstance(body, dict) else None
            raise PlatformError(f"the platform refused it: {detail or answer.status_code}")
        return body

    def transmit(self, deposit: Deposit) -> str:
        body = self._call(
            "POST",
            "/v1/invoices",
            headers={"Idempotency-Key": deposit.idempotency_key},
            json={
                "number": deposit.number,
                "kind": deposit.kind,
                "flavor": deposit.flavor,
                "filename": deposit.filename,
                "content": base64.b64encode(deposit.content).decode(),
                "buyer": {"siren": deposit.buyer_siren, "routing_id": deposit.buyer_routing_id},
            },
        )
        return str(body["id"])

    def statuses(self, cursor: str) -> tuple[list[PlatformStatus], str]:
        body = self._call("GET", "/v1/statuses", params={"after": cursor or "0"})
        try:
            found = [
                PlatformStatus(
                    s["number"], str(s["code"]), date.fromisoformat(s["date"]), s.get("reason", "")
                )
                for s in body["statuses"]
            ]
            return found, str(body["next"])
        except (KeyError, TypeError, ValueError) as error:
            raise PlatformError(f"the platform's statuses are malformed ({error})") from error
