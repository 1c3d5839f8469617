"""Migration 0007 (reminders through deliveries) keeps every reminder row and its outcome."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from notifications import reminders
from notifications.models import SubjectReminder
from tests.notifications.test_reminders import enrol

BEFORE = ("notifications", "0006_alert_site_required")
AFTER = ("notifications", "0007_reminders_and_notices_through_deliveries")


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.slow
def test_reminder_rows_survive_the_migration_and_an_old_claim_is_sent_by_the_new_sweep(
    transactional_db,
):
    for study in range(3):
        enrol(email=f"p{study}@example.org")
    reminders.create_due_reminders()
    rows = list(SubjectReminder.objects.order_by("pk").values_list("pk", flat=True))
    assert len(rows) == 6
    statuses = ["pending", "sending", "sent", "skipped", "failed", "pending"]
    for pk, status in zip(rows, statuses, strict=True):
        SubjectReminder.objects.filter(pk=pk).update(status=status)

    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:  # as the old inline sender left them
            cursor.execute("SELECT count(*) FROM notifications_subjectreminder")
            assert cursor.fetchone()[0] == 6
    finally:
        migrate(AFTER)

    after = dict(SubjectReminder.objects.values_list("pk", "status"))
    assert [after[pk] for pk in rows] == [
        "pending",
        "pending",  # claimed by the old sender: planned again by the new sweep
        "sent",
        "skipped",
        "failed",
        "pending",
    ]
    assert SubjectReminder.objects.get(pk=rows[1]).due_at < datetime(2025, 3, 6, tzinfo=UTC)
