"""Evaluate a subject: apply the decision table to its evidence (``screening.evidence``) and turn
the findings into alerts.

Alerts (docs/clinical-reference.md §3, docs/api.md "Alerts"): findings are merged per category.
Then, in one transaction holding the subject row (``FOR NO KEY UPDATE``: concurrent evaluations
of a subject queue up, while inserts that reference the subject are not blocked):
- an unresolved alert of the category exists: its evidence, rules and reasons grow and its severity
  rises if the finding's is higher; nobody is paged again;
- else, if resolved alerts of the category already hold all of the finding's evidence: nothing
  happens ("after resolution only new evidence opens a new one": evidence entered after the
  resolution, or entered before it but evaluated only after it, which nobody saw);
- else a new alert records the profile version and an input snapshot, and
  ``plan_deliveries`` fans it out to the site's first tier with active members (only here,
  never for added evidence).
The partial unique constraint ``alert_one_unresolved_per_category`` is the last guard.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications import delivery, recipients
from notifications.models import Alert
from screening.audit import record_audit
from screening.evidence import GatheredInputs, decision_input, gather_inputs, snapshot_inputs
from screening.models import (
    EvaluationRequest,
    Subject,
)
from screening.rules import (
    RULE_ORDER,
    RULES,
    SEVERITY_RANK,
    URGENT,
    Finding,
    evaluate,
    urgent_findings,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CategoryFinding:
    """The findings of one category, merged: what one alert holds."""

    category: str
    severity: str
    rules: list[str]
    reasons: list[dict[str, Any]]
    recommended_actions: list[str]
    response_ids: list[str]
    cmax_ids: list[str]


@dataclass
class EvaluationOutcome:
    """What one evaluation did."""

    findings: list[Finding] = field(default_factory=list)
    created: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    requests_processed: int = 0


def evaluate_subject(*, subject_id, now: datetime | None = None) -> EvaluationOutcome | None:
    """Evaluate one subject and create or extend its alerts; return what it did (None: no subject).

    Side effects, in one transaction: alerts created or extended (audited), deliveries planned
    for new alerts, and the subject's pending evaluation requests marked processed.
    """
    try:
        subject_uuid = uuid.UUID(str(subject_id))
    except ValueError:
        return None
    with transaction.atomic():
        # Serialise evaluations of this subject (see the module docstring).
        subject = (
            Subject.objects.select_for_update(no_key=True, of=("self",))
            .select_related("site")
            .filter(pk=subject_uuid)
            .first()
        )
        if subject is None:
            return None
        pending = list(
            EvaluationRequest.objects.filter(
                subject=subject, processed_at__isnull=True
            ).values_list("id", "reason", "source_id")
        )
        # The responses received since the last evaluation: the urgent rules judge each one on
        # its own, whatever newer results exist and whatever its completion time.
        new_response_ids = [
            source_id
            for _, reason, source_id in pending
            if reason == EvaluationRequest.Reason.RESPONSE and source_id
        ]
        # Read the clock only now, after the lock and the pending requests: the evidence of every
        # request marked processed below was stored before this instant, so it is seen.
        now = now or timezone.now()
        inputs = gather_inputs(subject, now=now, new_response_ids=new_response_ids)
        evaluation_input = decision_input(inputs)
        findings = evaluate(evaluation_input, inputs.thresholds)
        findings += urgent_findings(inputs.new_screens, evaluation_input, inputs.thresholds)
        outcome = EvaluationOutcome(findings=findings)
        snapshot = snapshot_inputs(inputs, evaluation_input)
        for merged in merge_by_category(findings):
            apply_finding(subject, merged, inputs=inputs, snapshot=snapshot, outcome=outcome)
        if pending:
            outcome.requests_processed = EvaluationRequest.objects.filter(
                id__in=[request_id for request_id, _, _ in pending]
            ).update(processed_at=timezone.now())
    for alert in outcome.created:
        logger.info(
            "alert created",
            extra={
                "alert_id": str(alert.pk),
                "subject_id": str(subject.pk),
                "site": subject.site.code,
            },
        )
    return outcome


def merge_by_category(findings: list[Finding]) -> list[CategoryFinding]:
    """Merge the findings of each category (e.g. D1 and D2) into what one alert holds."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.category, []).append(finding)
    merged = []
    for category, group in groups.items():
        reasons: list[dict[str, Any]] = []
        for finding in sorted(group, key=lambda f: RULE_ORDER[f.rule]):
            for reason in finding.reasons:
                data = reason.as_dict()
                if data not in reasons:
                    reasons.append(data)
        merged.append(
            CategoryFinding(
                category=category,
                severity=max((f.severity for f in group), key=SEVERITY_RANK.__getitem__),
                rules=sorted({f.rule for f in group}, key=RULE_ORDER.__getitem__),
                reasons=reasons,
                recommended_actions=unique(a for f in group for a in f.recommended_actions),
                response_ids=unique(i for f in group for i in f.response_ids),
                cmax_ids=unique(i for f in group for i in f.cmax_ids),
            )
        )
    return merged


def unique(values) -> list:
    """Return the distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


def apply_finding(
    subject: Subject,
    merged: CategoryFinding,
    *,
    inputs: GatheredInputs,
    snapshot: dict[str, Any],
    outcome: EvaluationOutcome,
) -> None:
    """Extend the category's unresolved alert, or open a new one if the evidence warrants it."""
    unresolved = (
        Alert.objects.select_for_update()
        .filter(subject=subject, category=merged.category)
        .exclude(status=Alert.Status.RESOLVED)
        .first()
    )
    if unresolved is not None:
        if extend_alert(unresolved, merged):
            outcome.updated.append(unresolved)
        return
    if already_resolved(subject, merged):
        return  # a clinician resolved an alert holding all of this evidence already
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                subject=subject,
                category=merged.category,
                severity=merged.severity,
                rules=merged.rules,
                reasons=merged.reasons,
                recommended_actions=merged.recommended_actions,
                inputs=snapshot,
                profile=inputs.profile,
                escalation_tier=recipients.first_tier(subject.site_id),
            )
    except IntegrityError:  # an unresolved alert appeared after all: extend it, page no one
        unresolved = (
            Alert.objects.select_for_update()
            .filter(subject=subject, category=merged.category)
            .exclude(status=Alert.Status.RESOLVED)
            .get()
        )
        if extend_alert(unresolved, merged):
            outcome.updated.append(unresolved)
        return
    # (add() takes primary keys of any type; the stubs expect an int)
    alert.evidence_responses.add(*merged.response_ids)  # type: ignore[arg-type]
    alert.evidence_cmax_results.add(*merged.cmax_ids)  # type: ignore[arg-type]
    record_audit(
        action="create",
        obj=alert,
        subject=subject,
        changes={
            "category": alert.category,
            "severity": alert.severity,
            "rules": alert.rules,
            "profile_version": inputs.profile.version,
            "responses": merged.response_ids,
            "cmax_results": merged.cmax_ids,
        },
        reason="evaluation",
    )
    delivery.plan_deliveries(alert=alert, tier=alert.escalation_tier)
    outcome.created.append(alert)


def already_resolved(subject: Subject, merged: CategoryFinding) -> bool:
    """Tell whether resolved alerts of the category already hold all of the finding's evidence.

    After resolution only evidence that no resolved alert of the category held opens a new one:
    a result entered after the resolution, or one entered before it but evaluated after it (a
    delayed evaluation), which the clinician who resolved never saw.
    """
    resolved = Alert.objects.filter(
        subject=subject, category=merged.category, status=Alert.Status.RESOLVED
    )
    if not resolved.exists():
        return False
    held = {
        str(pk)
        for pk in Alert.evidence_responses.through.objects.filter(alert__in=resolved).values_list(
            "response_id", flat=True
        )
    } | {
        str(pk)
        for pk in Alert.evidence_cmax_results.through.objects.filter(
            alert__in=resolved
        ).values_list("cmaxresult_id", flat=True)
    }
    return set(merged.response_ids) | set(merged.cmax_ids) <= held


def evidence_of(reason: dict[str, Any]) -> set[str]:
    """Return the response and Cmax ids a reason's inputs refer to."""
    inputs = reason.get("inputs") or {}
    return {str(inputs[key]) for key in ("response_id", "cmax_id") if inputs.get(key)}


def highest_item9(reasons: list[dict[str, Any]]) -> int | None:
    """Return the highest PHQ-9 item-9 answer the D1 reasons name (None if none is known)."""
    answers = [
        reason.get("inputs", {}).get("item9")
        for reason in reasons
        if isinstance(reason, dict) and reason.get("rule") == "D1"
    ]
    known = [a for a in answers if isinstance(a, int) and not isinstance(a, bool)]
    return max(known, default=None)


def worsening(alert: Alert, merged: CategoryFinding, new_rules: list[str]) -> list[str]:
    """Return in words how the finding worsens the alert (empty: it does not).

    Worse is: a higher severity, an urgent rule the alert did not have, or a higher item-9
    answer. Each pages the alert's recipients again; the same evidence again pages nobody.
    """
    changes = []
    if SEVERITY_RANK[merged.severity] > SEVERITY_RANK[alert.severity]:
        changes.append(f"severity raised from {alert.severity} to {merged.severity}")
    urgent = [rule for rule in new_rules if RULES[rule][1] == URGENT]
    if urgent:
        changes.append(f"new urgent finding {', '.join(urgent)}")
    before, after = highest_item9(alert.reasons), highest_item9(merged.reasons)
    if after is not None and before is not None and after > before:
        changes.append(f"PHQ-9 item 9 now answered {after} (was {before})")
    return changes


def extend_alert(alert: Alert, merged: CategoryFinding) -> bool:
    """Add a finding's new rules, reasons, actions and evidence to an unresolved alert.

    Return whether anything changed. Added evidence alone pages nobody (docs/api.md "Alerts"); a
    worsening (``worsening``) raises the alert's revision, reopens an acknowledged alert (the
    escalation clock restarts) and pages the current tier again with what changed.
    """
    had_responses = {str(pk) for pk in alert.evidence_responses.values_list("id", flat=True)}
    had_cmax = {str(pk) for pk in alert.evidence_cmax_results.values_list("id", flat=True)}
    new_responses = [pk for pk in merged.response_ids if pk not in had_responses]
    new_cmax = [pk for pk in merged.cmax_ids if pk not in had_cmax]
    new_rules = [rule for rule in merged.rules if rule not in alert.rules]
    new_evidence = set(new_responses) | set(new_cmax)
    new_reasons = [
        reason
        for reason in merged.reasons
        if reason not in alert.reasons
        and (reason["rule"] in new_rules or evidence_of(reason) & new_evidence)
    ]
    new_actions = [a for a in merged.recommended_actions if a not in alert.recommended_actions]
    raise_severity = SEVERITY_RANK[merged.severity] > SEVERITY_RANK[alert.severity]
    if not (new_responses or new_cmax or new_rules or new_reasons or new_actions or raise_severity):
        return False
    worse = worsening(alert, merged, new_rules)
    changes: dict[str, Any] = {}
    update_fields = ["updated_at"]
    if worse:
        alert.revision += 1
        changes["worsened"] = worse
        update_fields.append("revision")
        if alert.status == Alert.Status.ACKNOWLEDGED:
            changes["status"] = [alert.status, Alert.Status.OPEN]
            alert.status = Alert.Status.OPEN
            alert.acknowledged_at = alert.acknowledged_by = None
            update_fields += ["status", "acknowledged_at", "acknowledged_by"]
    if new_rules:
        alert.rules = sorted([*alert.rules, *new_rules], key=lambda r: RULE_ORDER.get(r, 99))
        changes["rules_added"] = new_rules
        update_fields.append("rules")
    if new_reasons:
        alert.reasons = [*alert.reasons, *new_reasons]
        update_fields.append("reasons")
    if new_actions:
        alert.recommended_actions = [*alert.recommended_actions, *new_actions]
        update_fields.append("recommended_actions")
    if raise_severity:
        changes["severity"] = [alert.severity, merged.severity]
        alert.severity = merged.severity
        update_fields.append("severity")
    alert.save(update_fields=update_fields)
    if new_responses:
        alert.evidence_responses.add(*new_responses)  # type: ignore[arg-type]
        changes["responses_added"] = new_responses
    if new_cmax:
        alert.evidence_cmax_results.add(*new_cmax)  # type: ignore[arg-type]
        changes["cmax_results_added"] = new_cmax
    record_audit(
        action="update", obj=alert, subject=alert.subject, changes=changes, reason="evaluation"
    )
    if worse:
        note = f"Update: {'; '.join(worse)}."
        delivery.plan_deliveries(alert=alert, tier=alert.escalation_tier, note=note)
    return True
