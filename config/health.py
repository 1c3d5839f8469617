"""Liveness and readiness probes (no authentication, no database access for liveness)."""

import logging

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

    With both up, ``status`` is ``degraded`` while any open alert reached nobody in time
    (``notifications.reconciliation``), with the count and the oldest.
    """

    def get(self, request):
        return Response(*readiness())


def readiness() -> tuple[dict, int]:
    """Check the database and the broker; return the body and the status code."""
    checks = {"database": check_database(), "broker": check_broker()}
    failed = [name for name, result in checks.items() if not result["ok"]]
    if failed:
        body = {
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
    from notifications.reconciliation import delivery_health

    alerts = delivery_health()
    # Degraded, not unavailable: the service must keep taking answers while an alert waits.
    status = "degraded" if alerts["undeliverable_alerts"] else "ok"
    body = {"status": status, "checks": checks, "worker_seen_at": worker_seen_at(), **alerts}
    return body, 200


def worker_seen_at() -> str | None:
    """When a Celery worker last ran beat's heartbeat task (information: readiness needs no worker).

    A time older than a few minutes means no worker or no beat is running: alerts would wait.
    """
    from notifications.models import WorkerHeartbeat

    heartbeat = WorkerHeartbeat.objects.filter(id=1).first()
    return heartbeat.seen_at.isoformat() if heartbeat else None
