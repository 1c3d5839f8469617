"""Liveness and readiness probes (no authentication, no database access for liveness)."""

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from kombu import Connection
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class ProbeView(APIView):
    """A probe: open to anyone, never throttled, outside the versioned API."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = None  # operational endpoints, not part of the versioned API


class HealthzView(ProbeView):
    """Liveness: 200 while the process runs."""

    def get(self, request):
        return Response({"status": "ok"})


def check_database(db=None) -> dict:
    """Run a trivial query on a database connection (the default one unless given)."""
    db = db or connection
    backend = db.vendor
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means not ready; the reason goes to the log
        logger.warning("readiness: database check failed", extra={"error": type(exc).__name__})
        return {"ok": False, "backend": backend, "error": type(exc).__name__}
    return {"ok": True, "backend": backend}


def check_broker() -> dict:
    """Open (and close) a connection to the Celery broker."""
    url = settings.CELERY_BROKER_URL
    transport_options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    conn = Connection(url, transport_options=transport_options, connect_timeout=2)
    backend = conn.transport_cls if isinstance(conn.transport_cls, str) else url.split(":")[0]
    try:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
    except Exception as exc:
        logger.warning("readiness: broker check failed", extra={"error": type(exc).__name__})
        return {"ok": False, "backend": backend, "error": type(exc).__name__}
    finally:
        conn.release()
    return {"ok": True, "backend": backend}


class ReadyzView(ProbeView):
    """Readiness: 200 when the database and the broker answer, 503 naming the failed ones.

    With both up, the apps' reports join the body (``add_readiness_report``): notifications says
    when a worker last ran the heartbeat, and ``status`` is ``degraded`` while any open alert
    reached nobody in time, with the count and the oldest.
    """

    def get(self, request):
        return Response(*readiness())


def readiness() -> tuple[dict, int]:
    """Check the database and the broker; return the body and the status code."""
    checks = {"database": check_database(), "broker": check_broker()}
    failed = [name for name, result in checks.items() if not result["ok"]]
    if failed:
        body: dict[str, Any] = {
            "status": "unavailable",
            "failed": failed,
            "checks": checks,
            "error": {
                "code": "unavailable",
                "message": f"Not ready: {', '.join(failed)} unreachable.",
                "fields": {},
            },
        }
        return body, 503
    body = {"status": "ok", "checks": checks}
    for report in READINESS_REPORTS:
        facts = dict(report())
        # Degraded, not unavailable: the service must keep taking answers while an alert waits.
        if facts.pop("degraded", False):
            body["status"] = "degraded"
        body.update(facts)
    return body, 200


# What the apps add to the readiness body (facts, and whether the service is degraded), registered
# from their AppConfig.ready(): config sits below the apps and never imports them.
READINESS_REPORTS: list[Callable[[], dict[str, Any]]] = []


def add_readiness_report(report: Callable[[], dict[str, Any]]) -> None:
    """Register a function whose dict joins the readiness body; ``degraded: True`` degrades it."""
    if report not in READINESS_REPORTS:
        READINESS_REPORTS.append(report)
