"""Use-cases on alerts that write: acknowledge and resolve, each audited.

Roles decide who may act (README "Who is paged"): an alert waits for a clinician of the subject's
site. A coordinator's acknowledgement is recorded (audited) but leaves the alert open, so the
escalation to clinicians goes on; only a clinician may resolve with a clinical action
(``CLINICAL_ACTIONS``) or resolve an urgent alert at all.
"""

from django.db import transaction
from django.utils import timezone

from screening.audit import record_audit
from screening.models import SiteMembership

from .models import Alert

CLINICAL_ACTIONS = frozenset(
    {Alert.Action.DOSE_REDUCED, Alert.Action.DRUG_SUSPENDED, Alert.Action.DRUG_STOPPED}
)


class AlertForbidden(Exception):
    """The user's role does not allow the change (403)."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


def is_clinician_of(user, site_id) -> bool:
    """Tell whether the user is a clinician of the site (the role that acts on alerts)."""
    return SiteMembership.objects.filter(
        user=user, site_id=site_id, role=SiteMembership.Role.CLINICIAN
    ).exists()


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
    """Mark an open alert acknowledged by a clinician; an acknowledged one is left as it is.

    A non-clinician's acknowledgement is audited and leaves the alert open (escalation goes on).
    Raises ``AlertConflict`` for a resolved alert.
    """
    alert = lock_alert(alert_id)
    if alert.status == Alert.Status.RESOLVED:
        raise AlertConflict("alert_resolved", "The alert is resolved already.")
    if alert.status == Alert.Status.ACKNOWLEDGED:
        return alert
    if not is_clinician_of(user, alert.subject.site_id):
        # Seen, but not by someone who can act: the alert stays open and keeps escalating.
        record_audit(
            action="acknowledge",
            obj=alert,
            actor=user,
            subject=alert.subject,
            changes={"status": [alert.status, alert.status]},
            reason="acknowledged by a non-clinician: escalation to clinicians continues",
        )
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

    Raises ``AlertConflict`` when it is resolved already, ``AlertForbidden`` when a non-clinician
    resolves with a clinical action or resolves an urgent alert. Audited.
    """
    alert = lock_alert(alert_id)
    if alert.status == Alert.Status.RESOLVED:
        raise AlertConflict("alert_resolved", "The alert is resolved already.")
    if not is_clinician_of(user, alert.subject.site_id):
        if action_taken in CLINICAL_ACTIONS:
            raise AlertForbidden(
                "clinician_required",
                "Only a clinician of the subject's site may resolve with a clinical action "
                "(dose_reduced, drug_suspended, drug_stopped).",
            )
        if alert.severity == Alert.Severity.URGENT:
            raise AlertForbidden(
                "clinician_required",
                "Only a clinician of the subject's site may resolve an urgent alert.",
            )
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
