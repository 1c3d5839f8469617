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
    "screening.open_due_assessments": {
        "task": "screening.open_due_assessments",
        "schedule": 60.0,
    },
    "screening.close_missed_assessments": {
        "task": "screening.close_missed_assessments",
        "schedule": 60.0,
    },
    "screening.materialise_all": {
        "task": "screening.materialise_all",
        "schedule": 3600.0,
    },
    "notifications.send_due_reminders": {
        "task": "notifications.send_due_reminders",
        "schedule": 60.0,
    },
}
