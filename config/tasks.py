"""Send a Celery task by name, after the current transaction commits, without ever blocking long.

Every app sends its triggers through here (``screening`` sends tasks it must not import by
name). The row that the task acts on is the truth and is already committed when the task is sent,
so a broker that is down, unreachable or hung only delays the work: the publish is bounded in
time (no publish retry; the broker connection and socket timeouts of settings,
``CELERY_BROKER_CONNECTION_TIMEOUT`` and ``CELERY_BROKER_TRANSPORT_OPTIONS``), a failure is
logged, and a beat sweep re-sends whatever is still pending.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction

from config.celery_app import app

logger = logging.getLogger(__name__)


def send_task(name: str, args: Sequence[Any] = (), *, countdown: float | None = None) -> bool:
    """Publish one task now; return whether it left. A broker failure is logged, never raised."""
    try:
        app.send_task(name, args=list(args), countdown=countdown, retry=False)
    except Exception as exc:  # broker down, unreachable or hung: the row waits for the sweep
        logger.warning(
            "task not sent; the sweep will retry",
            extra={
                "task": name,
                "task_args": [str(arg) for arg in args],
                "error": type(exc).__name__,
            },
        )
        return False
    return True


def send_tasks(name: str, args_list: Iterable[Sequence[Any]]) -> int:
    """Publish one task per argument list; stop at the first broker failure; return how many left.

    Stopping keeps a request from waiting out the timeout once per task when the broker is gone.
    """
    sent = 0
    for args in args_list:
        if not send_task(name, args):
            break
        sent += 1
    return sent


def send_task_on_commit(name: str, *args: Any) -> None:
    """Send the task after the current transaction commits (at once outside a transaction)."""
    frozen = [str(arg) for arg in args]
    transaction.on_commit(lambda: send_task(name, frozen))


def send_tasks_on_commit(name: str, args_list: Iterable[Sequence[Any]]) -> None:
    """Send one task per argument list after the current transaction commits."""
    frozen = [[str(arg) for arg in args] for args in args_list]
    transaction.on_commit(lambda: send_tasks(name, frozen))
