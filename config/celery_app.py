"""The Celery app. Beat only triggers idempotent sweeps: what is due lives in database rows."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("screening")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    name: {"task": name, "schedule": seconds}
    for name, seconds in [
        ("notifications.record_heartbeat", 60.0),
        ("screening.open_due_assessments", 60.0),
        ("screening.close_missed_assessments", 60.0),
        ("screening.materialise_all", 3600.0),
        ("notifications.send_due_reminders", 60.0),
        ("notifications.sweep_evaluations", 60.0),
        ("screening.request_periodic_evaluations", 6 * 3600.0),
        ("notifications.sweep_deliveries", 60.0),
        ("notifications.escalate_alerts", 60.0),
        ("notifications.sweep_export_jobs", 60.0),
    ]
}
