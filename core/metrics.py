"""Prometheus metrics at ``/metrics`` (``prometheus_client``): how long each endpoint
takes (the payment webhook's count is the webhooks processed), the job queue's depth,
tasks that failed for good, e-mails sent, and the domain events emitted (payments
paid, failed, charged back; letters; reminders...).

Only for whoever shows ``METRICS_TOKEN`` as a bearer token or asks from one of
``METRICS_NETWORKS`` (``10.0.0.0/8 127.0.0.1/32``); with neither set, ``/metrics``
answers 404. Under gunicorn with several processes, set ``PROMETHEUS_MULTIPROC_DIR``
to an empty folder: each process writes its counts there and ``/metrics`` adds them up
(``prometheus_client``'s multiprocess mode)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from core.appinfo import Gauge

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)

REQUESTS = Histogram(
    "guichet_request_seconds",
    "Time to answer a request, by endpoint, method and status class.",
    ["endpoint", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
TASK_FAILURES = Counter(
    "guichet_task_failures", "Background tasks that failed with no try left.", ["task"]
)
EMAILS = Counter("guichet_emails_sent", "E-mails handed to the mail server.")
EVENTS = Counter("guichet_events", "Domain events emitted, by name.", ["name"])


class QueueCollector:
    """The job queues' depths and waits, read when Prometheus asks (three round trips a
    queue)."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from core import jobs

        waiting = GaugeMetricFamily(
            "guichet_jobs_queued", "Tasks waiting to run.", labels=["queue"]
        )
        later = GaugeMetricFamily(
            "guichet_jobs_scheduled",
            "Tasks waiting for their time (retries, delays).",
            labels=["queue"],
        )
        oldest = GaugeMetricFamily(
            "guichet_jobs_waited_seconds",
            "How long the longest-waiting of the next 100 tasks has waited.",
            labels=["queue"],
        )
        failed = GaugeMetricFamily(
            "guichet_jobs_failed",
            "Tasks failed for good and not queued again yet (the back-office's failed tasks).",
        )
        with self.app.app_context():
            now = time.time()
            for kind, queue in jobs.queue(self.app).kinds.items():
                waiting.add_metric([kind], queue.pending_count())
                later.add_metric([kind], queue.scheduled_count())
                since = jobs.waiting_since(queue)
                oldest.add_metric([kind], max(0.0, now - since) if since else 0.0)
            failed.add_metric([], jobs.failed_count())
        yield waiting
        yield later
        yield oldest
        yield failed
        yield from self.plugin_gauges()

    def plugin_gauges(self):
        """The figures plugins give (``guichet_metrics``); one that fails is left out."""
        from core.appsystem import registry

        with self.app.app_context():
            for gauge in registry(self.app).call("guichet_metrics"):
                if not isinstance(gauge, Gauge) or not gauge.name.startswith("guichet_"):
                    log.error("guichet_metrics: %r is not a Gauge named guichet_…", gauge)
                    continue
                try:
                    values = gauge.read()
                except Exception:  # noqa: BLE001 - the other figures still answer
                    log.exception("guichet_metrics: %s could not be read", gauge.name)
                    continue
                family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
                for labels, value in values.items():
                    family.add_metric(list(labels), value)
                yield family


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_started)
    app.after_request(_answered)
    app.extensions["guichet_metrics_queue"] = QueueCollector(app)


def _started() -> None:
    g._metrics_started = time.perf_counter()


def _answered(response: Response) -> Response:
    started = g.pop("_metrics_started", None)
    if started is not None and request.endpoint != "metrics.scrape":
        REQUESTS.labels(
            request.endpoint or "unmatched", request.method, f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
    return response


def _allowed() -> bool:
    config = current_app.config
    token = config.get("METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and hmac.compare_digest(given.encode(), token.encode()):
        return True
    networks = (config.get("METRICS_NETWORKS") or "").replace(",", " ").split()
    if networks and request.remote_addr:
        address = ipaddress.ip_address(request.remote_addr)
        return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
    return False


@bp.get("/metrics")
def scrape():
    """The metrics, in Prometheus' text format; 404 unless allowed."""
    if not _allowed():
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    body = generate_latest(registry)
    body += generate_latest(_queue_registry())
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _queue_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(current_app.extensions["guichet_metrics_queue"])
    return registry
