"""A real Celery worker, in a subprocess, runs what a committed transaction sent."""

import pytest
from django.db import transaction

from notifications.models import WorkerHeartbeat
from notifications.tasks import record_heartbeat
from tests.support import wait_for


@pytest.mark.worker
def test_task_sent_after_commit_runs_in_a_worker_and_writes_to_postgresql(celery_worker):
    with transaction.atomic():
        record_heartbeat.delay_on_commit()
        # Nothing is sent before the commit: the worker could not see uncommitted rows.
        assert not WorkerHeartbeat.objects.exists()

    heartbeat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname__startswith="test-").first()
    )
    assert heartbeat.hostname.startswith("test-")


@pytest.mark.worker
def test_task_of_a_rolled_back_transaction_is_never_sent(celery_worker, redis_client):
    with pytest.raises(RuntimeError), transaction.atomic():
        record_heartbeat.delay_on_commit()
        raise RuntimeError("roll back")

    assert redis_client.llen("celery") == 0
    assert not WorkerHeartbeat.objects.exists()
