"""Domain events (``invoice.created``, ``payment.paid``, ...) delivered to plugins."""

from __future__ import annotations

from typing import Any

from flask import current_app

from core.activation import enabled_app_keys
from core.appsystem import registry


def emit(name: str, payload: dict[str, Any]) -> None:
    """Call ``guichet_event(name, payload)`` on the plugins concerned: with an
    ``organisation_id`` in ``payload``, only those enabled for that organisation.
    A plugin that raises is logged and does not stop the others."""
    org_id = payload.get("organisation_id")
    enabled = enabled_app_keys(org_id) if org_id is not None else None
    registry(current_app).call("guichet_event", enabled=enabled, name=name, payload=payload)
