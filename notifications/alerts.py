"""Use-cases on alerts that write: acknowledge and resolve, each audited."""

from django.db import transaction
from django.utils import timezone

from screening.audit import record_audit

from .models import Alert


class AlertConflict(Exception):
    """The alert's status does not allow the change (e.g. it is resolved already)."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


def lock_alert(alert_id) -> Alert:
    """Return the alert, its row locked until the end of the transaction."""
    return Alert.objects.select_for_update(of=("self",)).select_related("subject").get(pk=alert_id)


@transaction.atomic
def acknowledge_alert(*, alert_id, user) -> Alert:
    """Mark an open alert acknowledged by the user; an acknowledged one is left as it is.

    Raises ``AlertConflict`` for a resolved alert. Audited.
    """
    alert = lock_alert(alert_id)
    if alert.status == Alert.Status.RESOLVED:
        raise AlertConflict("alert_resolved", "The alert is resolved already.")
    if alert.status == Alert.Status.ACKNOWLEDGED:
        return alert
    alert.status = Alert.Status.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = user
    alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "updated_at"])
    record_audit(
        action="acknowledge",
        obj=alert,
        actor=user,
        subject=alert.subject,
        changes={"status": [Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]},
    )
    return alert


@transaction.atomic
def resolve_alert(*, alert_id, user, action_taken: str, note: str = "") -> Alert:
    """Resolve an open or acknowledged alert with the action taken and a note.

    Raises ``AlertConflict`` when it is resolved already. Audited.
    """
    alert = lock_alert(alert_id)
    if alert.status == Alert.Status.RESOLVED:
        raise AlertConflict("alert_resolved", "The alert is resolved already.")
    previous = alert.status
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = timezone.now()
    alert.resolved_by = user
    alert.action_taken = action_taken
    alert.resolution_note = note
    alert.save(
        update_fields=[
            "status",
            "resolved_at",
            "resolved_by",
            "action_taken",
            "resolution_note",
            "updated_at",
        ]
    )
    record_audit(
        action="resolve",
        obj=alert,
        actor=user,
        subject=alert.subject,
        changes={"status": [previous, Alert.Status.RESOLVED], "action_taken": action_taken},
        reason=note,
    )
    return alert
