"""The Celery app. Beat only triggers idempotent sweeps: what is due lives in database rows."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("screening")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "notifications.record_heartbeat": {
        "task": "notifications.record_heartbeat",
        "schedule": 60.0,
    },
    # Evaluations whose task was lost (broker outage, worker crash): the outbox rows say so.
    "notifications.sweep_evaluations": {
        "task": "notifications.sweep_evaluations",
        "schedule": 60.0,
    },
}
