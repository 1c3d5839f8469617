"""The Celery app. Beat only triggers idempotent sweeps: what is due lives in database rows.

Two queues, so that urgent work never waits behind bulk work (README, "How the processes fit
together"): ``urgent`` holds the evaluations triggered by new data, alert deliveries, escalation
and the heartbeat; ``bulk`` the periodic re-evaluation, materialisation and the minute sweeps of
assessments and reminders. ``make run`` starts one worker serving ``urgent`` only and one serving
``urgent,bulk``: a long bulk backlog never delays an urgent task. Tasks are routed by name, so a
task sent by name (``send_task``) lands in the same queue as one called directly; a task not listed
goes to ``urgent`` (the default queue), never to a queue that no worker reads.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("screening")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

URGENT_QUEUE = "urgent"
BULK_QUEUE = "bulk"

URGENT_TASKS = (
    "notifications.evaluate_subject",
    "notifications.sweep_evaluations",
    "notifications.deliver",
    "notifications.sweep_deliveries",
    "notifications.escalate_alerts",
    "notifications.record_heartbeat",
)
BULK_TASKS = (
    "notifications.evaluate_subjects",
    "screening.request_periodic_evaluations",
    "screening.materialise_all",
    "screening.materialise_subjects",
    "screening.open_due_assessments",
    "screening.close_missed_assessments",
    "notifications.send_due_reminders",
    "notifications.run_export_job",
    "notifications.sweep_export_jobs",
)

app.conf.task_default_queue = URGENT_QUEUE
app.conf.task_routes = {
    **{name: {"queue": URGENT_QUEUE} for name in URGENT_TASKS},
    **{name: {"queue": BULK_QUEUE} for name in BULK_TASKS},
}

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
