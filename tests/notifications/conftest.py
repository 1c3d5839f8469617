"""Fixtures shared by the notifications tests."""

import pytest

from notifications import delivery


@pytest.fixture
def sent_tasks(monkeypatch):
    """Record the delivery ids whose task would go to the broker."""
    sent: list[str] = []
    monkeypatch.setattr(delivery, "send_delivery_task", sent.append)
    return sent
