"""Tests for config/celery_app.py: every task named by beat or sent by name is registered."""

import pytest

from config.celery_app import app
from notifications.delivery import DELIVER_TASK
from screening.services.outbox import EVALUATE_TASK


@pytest.fixture(scope="module")
def registered() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_beat_schedule_names_only_registered_tasks(registered):
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}

    assert len(scheduled) == len(app.conf.beat_schedule)  # names are unique
    assert scheduled - registered == set()


def test_tasks_sent_by_name_are_registered(registered):
    assert {EVALUATE_TASK, DELIVER_TASK} - registered == set()
