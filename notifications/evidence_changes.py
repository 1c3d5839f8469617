"""Open alerts whose evidence changed after they were raised (issue 10).

Called by ``notifications.evaluation`` inside the evaluation's transaction, before the findings are
applied, for every unresolved alert of the subject:
- a Cmax result of its evidence was voided (or corrected: voided and replaced by a new result):
  the alert is not closed. Its reasons that read the withdrawn value are marked withdrawn, the
  rules that depended on them leave the alert's rules (the audit keeps them), its advice becomes
  the current advice of its category (or, if nothing of the category fires any more, "evidence
  withdrawn: review and resolve"), and every clinician the alert reached (else the members of
  its current tier) gets an ``AlertNotice`` "evidence withdrawn", sent by email after commit;
- a response of its evidence was amended: the alert says so (a reason "amended" with who, when,
  why and the re-scored total). Nobody is paged: a positive amended form reaches clinicians
  through the findings as usual.
Each change is noted once (the reasons carry the withdrawn result's or the amendment's id).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.celery_app import app
from notifications.models import Alert, AlertNotice, Channel, Delivery
from notifications.recipients import usable_channels
from screening.audit import record_audit
from screening.models import Amendment, CmaxResult, SiteMembership, Subject
from screening.rules import Thresholds

logger = logging.getLogger(__name__)

SEND_NOTICE_TASK = "notifications.send_notice"
# Attempts after which a notice that cannot be sent is marked failed (logged at ERROR).
NOTICE_MAX_ATTEMPTS = 10
WITHDRAWN = "withdrawn"
AMENDED = "amended"


def noted(alert: Alert, rule: str, key: str) -> set[str]:
    """Return the ids already noted on an alert by reasons of ``rule`` under ``key``."""
    return {
        str(reason.get("inputs", {}).get(key))
        for reason in alert.reasons
        if isinstance(reason, dict) and reason.get("rule") == rule
    }


def note_changed_evidence(
    subject: Subject, *, current: dict[str, Any], thresholds: Thresholds
) -> list[Alert]:
    """Note withdrawn and amended evidence on the subject's unresolved alerts; return those changed.

    ``current``: category -> the merged finding of this evaluation (``CategoryFinding``), whose
    actions become the advice of an alert whose evidence was withdrawn.
    """
    changed = []
    alerts = (
        Alert.objects.select_for_update()
        .filter(subject=subject)
        .exclude(status=Alert.Status.RESOLVED)
    )
    for alert in alerts:
        withdrawn = [
            result
            for result in alert.evidence_cmax_results.filter(
                voided_at__isnull=False
            ).select_related("corrected_by")
            if str(result.pk) not in noted(alert, WITHDRAWN, "withdrawn_cmax_id")
        ]
        amendments = [
            amendment
            for amendment in Amendment.objects.filter(
                response__in=alert.evidence_responses.all(), created_at__gt=alert.created_at
            ).select_related("response")
            if str(amendment.pk) not in noted(alert, AMENDED, "amendment_id")
        ]
        if not withdrawn and not amendments:
            continue
        if withdrawn:
            withdraw(alert, withdrawn, current=current.get(alert.category), thresholds=thresholds)
        if amendments:
            note_amendments(alert, amendments)
        changed.append(alert)
    return changed


def withdraw(alert: Alert, results: list[CmaxResult], *, current, thresholds: Thresholds) -> None:
    """Mark the alert's reasons on withdrawn results, update its advice, tell its clinicians."""
    ids = {str(result.pk) for result in results}
    dropped_rules = set()
    reasons = []
    for reason in alert.reasons:
        inputs = reason.get("inputs") or {}
        if str(inputs.get("cmax_id")) in ids and not reason.get("withdrawn"):
            reason = {**reason, "withdrawn": True, "text": f"Withdrawn: {reason.get('text', '')}"}
            dropped_rules.add(reason.get("rule"))
        reasons.append(reason)
    texts = []
    for result in results:
        replacement = getattr(result, "corrected_by", None)
        if replacement is not None:
            what = f"corrected to {replacement.value_ug_per_ml} µg/mL (result {replacement.pk})"
        else:
            what = "voided"
        text = (
            f"Evidence withdrawn: Cmax {result.value_ug_per_ml} µg/mL (lab reference "
            f"{result.lab_reference}, result {result.pk}) was {what}: {result.void_reason}"
        )
        texts.append(text)
        reasons.append(
            {
                "rule": WITHDRAWN,
                "text": text,
                "inputs": {
                    "withdrawn_cmax_id": str(result.pk),
                    "replaced_by": str(replacement.pk) if replacement is not None else None,
                    "void_reason": result.void_reason,
                    "voided_at": result.voided_at.isoformat() if result.voided_at else None,
                },
            }
        )
    old_rules = list(alert.rules)
    old_actions = list(alert.recommended_actions)
    alert.reasons = reasons
    alert.rules = [rule for rule in alert.rules if rule not in dropped_rules]
    if current is not None:
        alert.recommended_actions = list(current.recommended_actions)
    else:
        alert.recommended_actions = [thresholds.evidence_withdrawn_action]
    alert.save(update_fields=["reasons", "rules", "recommended_actions", "updated_at"])
    record_audit(
        action="update",
        obj=alert,
        subject=alert.subject,
        changes={
            "evidence_withdrawn": sorted(ids),
            "rules": [old_rules, alert.rules],
            "recommended_actions": [old_actions, alert.recommended_actions],
        },
        reason="evidence withdrawn",
    )
    for result in results:
        notify_withdrawn(alert, str(result.pk), texts[results.index(result)])


def note_amendments(alert: Alert, amendments: list[Amendment]) -> None:
    """Add a reason per amendment of the alert's evidence: who, when, why, old and new total."""
    for amendment in amendments:
        response = amendment.response
        old_total = (amendment.previous_score or {}).get("total")
        new_total = (amendment.score or {}).get("total")
        text = (
            f"Evidence amended: {response.instrument_code} response {response.pk} was amended on "
            f"{amendment.created_at.isoformat()} (total {old_total} -> {new_total}): "
            f"{amendment.reason}"
        )
        alert.reasons = [
            *alert.reasons,
            {
                "rule": AMENDED,
                "text": text,
                "inputs": {
                    "amended_response_id": str(response.pk),
                    "amendment_id": str(amendment.pk),
                    "previous_total": old_total,
                    "total": new_total,
                },
            },
        ]
    alert.save(update_fields=["reasons", "updated_at"])
    record_audit(
        action="update",
        obj=alert,
        subject=alert.subject,
        changes={"evidence_amended": [str(a.pk) for a in amendments]},
        reason="evidence amended",
    )


def alert_clinicians(alert: Alert) -> list:
    """Return the users the alert reached (its deliveries), else its tier's active members."""
    User = get_user_model()
    reached = User.objects.filter(
        pk__in=Delivery.objects.filter(alert=alert).values("recipient_id"), is_active=True
    )
    users = list(reached.order_by("pk"))
    if users:
        return users
    members = SiteMembership.objects.filter(
        site_id=alert.subject.site_id, escalation_tier=alert.escalation_tier
    ).values("user_id")
    return list(User.objects.filter(pk__in=members, is_active=True).order_by("pk"))


def notify_withdrawn(alert: Alert, evidence_id: str, text: str) -> list[AlertNotice]:
    """Create an "evidence withdrawn" notice per clinician of the alert; send each after commit."""
    rows = [
        AlertNotice(
            alert=alert,
            recipient=user,
            kind=AlertNotice.Kind.EVIDENCE_WITHDRAWN,
            evidence_id=evidence_id,
            text=text,
        )
        for user in alert_clinicians(alert)
    ]
    if not rows:
        logger.error(
            "evidence withdrawn but the alert has no clinician to tell",
            extra={"alert_id": str(alert.pk)},
        )
        return []
    AlertNotice.objects.bulk_create(rows, ignore_conflicts=True)
    notices = list(
        AlertNotice.objects.filter(
            alert=alert, kind=AlertNotice.Kind.EVIDENCE_WITHDRAWN, evidence_id=evidence_id
        )
    )
    for notice in notices:
        if notice.status == AlertNotice.Status.PENDING:
            notice_id = str(notice.pk)
            transaction.on_commit(lambda notice_id=notice_id: send_notice_task(notice_id))
    return notices


def send_notice_task(notice_id: str) -> None:
    """Send the notice task by name; if the broker is down, the delivery sweep's beat resends."""
    try:
        app.send_task(SEND_NOTICE_TASK, args=[notice_id])
    except Exception as exc:  # broker down: the row stays pending (sweep_notices)
        logger.warning(
            "notice task not sent", extra={"notice_id": notice_id, "error": type(exc).__name__}
        )


def send_notice(notice_id) -> str:
    """Email one pending notice to its recipient's usable email channels; return its status."""
    claimed = AlertNotice.objects.filter(id=notice_id, status=AlertNotice.Status.PENDING).update(
        status=AlertNotice.Status.SENDING, attempts=F("attempts") + 1
    )
    if not claimed:
        return ""
    notice = AlertNotice.objects.select_related("alert__subject__site", "recipient").get(
        id=notice_id
    )
    addresses = [
        channel.address
        for channel in usable_channels(notice.recipient)
        if channel.kind == Channel.Kind.EMAIL
    ]
    if not addresses:
        AlertNotice.objects.filter(id=notice.id).update(
            status=AlertNotice.Status.FAILED, last_error="no usable email channel"
        )
        logger.error("notice has no email channel", extra={"notice_id": str(notice.id)})
        return AlertNotice.Status.FAILED
    subject = notice.alert.subject
    message = EmailMessage(
        subject=f"Evidence withdrawn: {notice.alert.category} alert for {subject.study_id} "
        f"({subject.site.code})",
        body=(
            f"{notice.text}\n\nThe alert {notice.alert.pk} stays open: review it and resolve it "
            f"(POST /api/v1/alerts/{notice.alert.pk}/resolve/).\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=addresses,
        headers={"X-Notice-Id": str(notice.id)},
        connection=get_connection(fail_silently=False),
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # SMTP down or refused: kept pending, retried by the sweep
        final = notice.attempts >= NOTICE_MAX_ATTEMPTS
        AlertNotice.objects.filter(id=notice.id).update(
            status=AlertNotice.Status.FAILED if final else AlertNotice.Status.PENDING,
            last_error=type(exc).__name__,
        )
        if final:
            logger.error(
                "notice not sent after the maximum attempts", extra={"notice_id": str(notice.id)}
            )
            return AlertNotice.Status.FAILED
        logger.warning("notice not sent; will retry", extra={"notice_id": str(notice.id)})
        raise
    AlertNotice.objects.filter(id=notice.id).update(
        status=AlertNotice.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return AlertNotice.Status.SENT


def sweep_notices() -> int:
    """Re-send the task of pending notices older than a minute (broker lost or down)."""
    due = AlertNotice.objects.filter(
        status=AlertNotice.Status.PENDING,
        created_at__lt=timezone.now() - timedelta(seconds=60),
    ).values_list("id", flat=True)[:500]
    ids = [str(pk) for pk in due]
    for notice_id in ids:
        send_notice_task(notice_id)
    return len(ids)
