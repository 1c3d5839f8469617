"""Fixtures shared by the notifications tests."""

import pytest

from config import tasks
from notifications.delivery import DELIVER_TASK


@pytest.fixture
def sent_tasks(monkeypatch):
    """Record the delivery ids whose task would go to the broker (retries with a countdown too)."""
    sent: list[str] = []
    real = tasks.send_task

    def record(name, args=(), *, countdown=None):
        if name != DELIVER_TASK:
            return real(name, args, countdown=countdown)
        sent.append(str(args[0]))
        return True

    monkeypatch.setattr(tasks, "send_task", record)
    return sent
