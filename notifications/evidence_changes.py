"""Open alerts whose evidence changed after they were raised (issue 10).

Called by ``notifications.evaluation`` inside the evaluation's transaction, before the findings are
applied, for every unresolved alert of the subject:
- a Cmax result of its evidence was voided (or corrected: voided and replaced by a new result):
  the alert is not closed. Its reasons that read the withdrawn value are marked withdrawn, the
  rules that depended on them leave the alert's rules (the audit keeps them), its advice becomes
  the current advice of its category (or, if nothing of the category fires any more, "evidence
  withdrawn: review and resolve"), and its revision is raised and its current tier paged again
  (``delivery.plan_deliveries`` with the note "Evidence withdrawn: ..."), on every channel with
  the delivery pipeline's retries and fall-backs; the alert is neither reopened nor closed;
- a response of its evidence was amended: the alert says so (a reason "amended" with who, when,
  why and the re-scored total). Nobody is paged: a positive amended form reaches clinicians
  through the findings as usual.
Each change is noted once (the reasons carry the withdrawn result's or the amendment's id).
"""

from __future__ import annotations

from typing import Any

from notifications import delivery
from notifications.models import Alert
from screening.audit import record_audit
from screening.models import Amendment, CmaxResult, Subject
from screening.rules import Thresholds

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
    alert.revision += 1
    alert.save(update_fields=["revision", "updated_at"])
    note = " ".join(texts) + " This alert stays open: review it and resolve it."
    delivery.plan_deliveries(alert=alert, tier=alert.escalation_tier, note=note)


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
