"""config/tasks.py: the one way to send a task by name, after commit, never blocking long."""

import logging

import pytest

from config import tasks
from tests.conftest import celery_broker_at
from tests.support import free_port


@pytest.fixture
def broker_down():
    with celery_broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        yield


@pytest.mark.slow  # each refused publish waits out the bounded connect retries (a few seconds)
def test_a_broker_failure_is_logged_and_never_raised(broker_down, caplog):
    with caplog.at_level(logging.WARNING, logger="config.tasks"):
        assert tasks.send_task("notifications.deliver", ["d-1"]) is False

    [record] = [r for r in caplog.records if r.name == "config.tasks"]
    assert (record.getMessage(), record.task, record.task_args) == (
        "task not sent; the sweep will retry",
        "notifications.deliver",
        ["d-1"],
    )


@pytest.mark.slow
def test_a_batch_stops_at_the_first_broker_failure(broker_down, caplog):
    with caplog.at_level(logging.WARNING, logger="config.tasks"):
        sent = tasks.send_tasks("notifications.evaluate_subject", [["a"], ["b"], ["c"]])

    assert sent == 0
    assert len([r for r in caplog.records if r.name == "config.tasks"]) == 1  # not three waits


@pytest.mark.django_db
def test_tasks_are_sent_only_after_commit(monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks, "send_task", lambda name, args=(), **kw: sent.append((name, args)))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.send_task_on_commit("notifications.deliver", "d-1")
        tasks.send_tasks_on_commit("notifications.evaluate_subject", [["s-1"]])
        assert sent == []

    assert len(callbacks) == 2
    assert sent == [
        ("notifications.deliver", ["d-1"]),
        ("notifications.evaluate_subject", ["s-1"]),
    ]


def test_the_publish_never_retries(settings):
    from config.celery_app import app

    assert (settings.CELERY_TASK_PUBLISH_RETRY, app.conf.task_publish_retry) == (False, False)
