"""The Celery app. Beat only triggers idempotent sweeps: what is due lives in database rows."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("screening")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Delivery and escalation tasks live in their own module of the notifications app.
app.autodiscover_tasks(related_name="tasks_delivery")

app.conf.beat_schedule = {
    "notifications.record_heartbeat": {
        "task": "notifications.record_heartbeat",
        "schedule": 60.0,
    },
    "notifications.sweep_deliveries": {
        "task": "notifications.sweep_deliveries",
        "schedule": 60.0,
    },
    "notifications.escalate_alerts": {
        "task": "notifications.escalate_alerts",
        "schedule": 60.0,
    },
}
