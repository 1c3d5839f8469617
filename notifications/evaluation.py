"""Evaluate a subject: gather its inputs, apply the decision table, turn the findings into alerts.

Inputs (clinical-reference §3), as of ``now``:
- responses completed within max(look-back, BPNS window) days, valid or not, mapped to
  ``ScreenResult`` with their stored score's grade, case and flags (the pure
  ``select_latest_screens`` picks the latest valid one per instrument inside its window, plus the
  invalid forms the rules still read: a PHQ-9 for D1, an incomplete NEURO-SX whose grade is a lower
  bound, a BPNS whose ``case`` is True);
- Cmax samples taken within the recency window plus one day (an occasion's earlier sample may lie
  up to a day before its newest one), mapped to ``CmaxSample`` for ``select_current_cmax``;
- evidence cannot have happened after it reached us: a completion or sample time later than the
  row's receipt (``received_at``, ``created_at``) is read as the receipt time. Phones and lab
  clocks may run up to 5 minutes ahead of ours (``CLOCK_SKEW``), and the evaluation queued by the
  submission runs at once: without the cap it would ignore the new evidence as "in the future",
  mark the request processed, and nothing would evaluate it again;
- the regimen: the latest ``RegimenChange`` effective at or before ``now``. The latest *dose
  change* is the latest change whose drug or mg/day differs from the change before it. A change of
  pyridoxine, co-medication or alcohol use only is not a dose change (the Cmax still reflects the
  dose), and the first recorded regimen is not one either: it records the regimen in force at
  enrolment, with no earlier dose to differ from (plausibility already refuses samples before the
  treatment start);
- the monitoring profile: the latest version for the regimen's drug, else the default drug's.

Alerts (clinical-reference §3, api.md "Alerts"): findings are merged per category. Then, in one
transaction holding the subject row (``FOR NO KEY UPDATE``: concurrent evaluations of a subject
queue up, while inserts that reference the subject are not blocked):
- an unresolved alert of the category exists: its evidence, rules and reasons grow and its severity
  rises if the finding's is higher; nobody is paged again;
- else, if the category's latest alert is resolved and none of the finding's evidence entered the
  system (response ``received_at``, Cmax ``created_at``) after that resolution: nothing happens
  ("after resolution only newer evidence opens a new one"; entry time, not completion time, so a
  paper form completed before the resolution but entered after it still reaches a clinician);
- else a new alert records the profile version and an input snapshot, and
  ``plan_deliveries`` fans it out to the site's first tier with active members (only here,
  never for added evidence).
The partial unique constraint ``alert_one_unresolved_per_category`` is the last guard.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Least
from django.utils import timezone

from screening.audit import record_audit
from screening.cmax import CmaxSample, select_current_cmax
from screening.models import (
    CmaxResult,
    EvaluationRequest,
    MonitoringProfile,
    RegimenChange,
    Response,
    Subject,
)
from screening.rules import (
    PHQ9,
    RULE_ORDER,
    SEVERITY_RANK,
    EvaluationInput,
    Finding,
    Regimen,
    ScreenResult,
    Thresholds,
    evaluate,
    select_latest_screens,
)
from screening.tdm import DEFAULT_DRUG, current_profile, thresholds_for

from . import delivery
from .models import Alert

logger = logging.getLogger(__name__)

# An occasion's samples lie within 24 h of each other (screening.cmax): load one day more than
# the recency window so the whole latest occasion is seen.
CMAX_LOAD_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class GatheredInputs:
    """Everything read from the database for one evaluation, already in the pure types."""

    now: datetime
    profile: MonitoringProfile
    thresholds: Thresholds
    screens: list[ScreenResult]
    samples: list[CmaxSample]
    regimen: Regimen | None
    latest_dose_change_at: datetime | None
    entered_at: dict[str, datetime]  # evidence id -> when it entered the system


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
            ).values_list("id", flat=True)
        )
        # Read the clock only now, after the lock and the pending requests: the evidence of every
        # request marked processed below was stored before this instant, so it is seen.
        now = now or timezone.now()
        inputs = gather_inputs(subject, now=now)
        selected = select_latest_screens(inputs.screens, now=now, thresholds=inputs.thresholds)
        cmax = select_current_cmax(
            inputs.samples,
            now=now,
            recency_days=inputs.thresholds.cmax_recency_days,
            latest_dose_change_at=inputs.latest_dose_change_at,
        )
        evaluation_input = EvaluationInput(
            now=now,
            latest=selected.latest,
            bpns=selected.bpns,
            cmax=cmax,
            regimen=inputs.regimen,
            phq9_invalid=selected.phq9_invalid,
            neuro_incomplete=selected.neuro_incomplete,
        )
        findings = evaluate(evaluation_input, inputs.thresholds)
        outcome = EvaluationOutcome(findings=findings)
        snapshot = snapshot_inputs(inputs, evaluation_input)
        for merged in merge_by_category(findings):
            apply_finding(subject, merged, inputs=inputs, snapshot=snapshot, outcome=outcome)
        if pending:
            outcome.requests_processed = EvaluationRequest.objects.filter(id__in=pending).update(
                processed_at=timezone.now()
            )
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


# --- gathering ---------------------------------------------------------------------------------


def gather_inputs(subject: Subject, *, now: datetime) -> GatheredInputs:
    """Read the subject's regimen, profile, recent responses and Cmax samples (four queries)."""
    changes = list(
        RegimenChange.objects.filter(subject=subject, effective_from__lte=now).order_by(
            "effective_from", "created_at"
        )
    )
    regimen = to_regimen(changes[-1]) if changes else None
    profile = current_profile(regimen.drug if regimen is not None else DEFAULT_DRUG)
    thresholds = thresholds_for(profile)
    entered_at: dict[str, datetime] = {}

    screen_since = now - timedelta(days=max(thresholds.lookback_days, thresholds.bpns_window_days))
    responses = (
        Response.objects.filter(subject=subject, completed_at__gte=screen_since)
        .annotate(known_completed_at=Least("completed_at", "received_at"))
        .filter(known_completed_at__gte=screen_since, known_completed_at__lte=now)
        .only("id", "instrument_code", "completed_at", "received_at", "score", "valid", "answers")
    )
    screens = []
    for response in responses:
        screens.append(to_screen_result(response, completed_at=response.known_completed_at))
        entered_at[str(response.pk)] = response.received_at

    cmax_since = now - timedelta(days=thresholds.cmax_recency_days) - CMAX_LOAD_MARGIN
    samples = []
    for row in (
        CmaxResult.objects.filter(subject=subject, sampled_at__gte=cmax_since)
        .annotate(known_sampled_at=Least("sampled_at", "created_at"))
        .filter(known_sampled_at__gte=cmax_since, known_sampled_at__lte=now)
        .values("id", "value_ug_per_ml", "known_sampled_at", "hours_post_dose", "created_at")
    ):
        samples.append(
            CmaxSample(
                id=str(row["id"]),
                value_ug_per_ml=row["value_ug_per_ml"],
                sampled_at=row["known_sampled_at"],
                hours_post_dose=row["hours_post_dose"],
            )
        )
        entered_at[str(row["id"])] = row["created_at"]

    return GatheredInputs(
        now=now,
        profile=profile,
        thresholds=thresholds,
        screens=screens,
        samples=samples,
        regimen=regimen,
        latest_dose_change_at=latest_dose_change_at(changes),
        entered_at=entered_at,
    )


def to_regimen(change: RegimenChange) -> Regimen:
    """Map a regimen change to the decision table's regimen."""
    return Regimen(
        drug=change.drug,
        dose_mg_per_day=change.dose_mg_per_day,
        pyridoxine_mg_per_day=change.pyridoxine_mg_per_day,
        isoniazid=change.isoniazid,
        ethionamide=change.ethionamide,
        alcohol_use=change.alcohol_use,
    )


def latest_dose_change_at(changes: list[RegimenChange]) -> datetime | None:
    """Return when the drug or its dose last changed; changes are in effective order."""
    latest = None
    for previous, current in zip(changes, changes[1:], strict=False):
        if (current.drug, current.dose_mg_per_day) != (previous.drug, previous.dose_mg_per_day):
            latest = current.effective_from
    return latest


def as_int(value: Any) -> int | None:
    """Return an integer score field, or None for anything else (bool included)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def to_screen_result(response: Response, *, completed_at: datetime | None = None) -> ScreenResult:
    """Map a stored response and its score (``Score.as_dict``) to the decision table's input.

    ``completed_at`` overrides the stored completion time (``gather_inputs`` passes the time
    capped at receipt).
    """
    score = response.score if isinstance(response.score, dict) else {}
    flags = score.get("flags")
    case = score.get("case")
    item9 = None
    if response.instrument_code == PHQ9 and isinstance(response.answers, dict):
        item9 = as_int(response.answers.get("phq9_9"))
    return ScreenResult(
        response_id=str(response.pk),
        instrument=response.instrument_code,
        completed_at=completed_at or response.completed_at,
        total=as_int(score.get("total")),
        band=score.get("band") if isinstance(score.get("band"), str) else None,
        flags=tuple(str(flag) for flag in flags) if isinstance(flags, list) else (),
        valid=bool(response.valid),
        grade=as_int(score.get("grade")),
        case=case if isinstance(case, bool) else None,
        item9=item9,
    )


def snapshot_inputs(inputs: GatheredInputs, evaluation_input: EvaluationInput) -> dict[str, Any]:
    """Return the JSON snapshot of what the decision table read (stored on a new alert)."""

    def screen(result: ScreenResult | None) -> dict[str, Any] | None:
        if result is None:
            return None
        return {
            "response_id": result.response_id,
            "instrument": result.instrument,
            "completed_at": result.completed_at.isoformat(),
            "total": result.total,
            "band": result.band,
            "flags": list(result.flags),
            "valid": result.valid,
            "grade": result.grade,
            "case": result.case,
        }

    cmax = evaluation_input.cmax
    regimen = inputs.regimen
    profile = inputs.profile
    return {
        "evaluated_at": inputs.now.isoformat(),
        "profile": {
            "id": str(profile.pk),
            "drug": profile.drug,
            "name": profile.name,
            "version": profile.version,
        },
        "screens": {code: screen(result) for code, result in evaluation_input.latest.items()},
        "bpns": screen(evaluation_input.bpns),
        "phq9_invalid": screen(evaluation_input.phq9_invalid),
        "neuro_incomplete": screen(evaluation_input.neuro_incomplete),
        "cmax": None
        if cmax is None
        else {
            "cmax_id": cmax.id,
            "value_ug_per_ml": str(cmax.value_ug_per_ml),
            "sampled_at": cmax.sampled_at.isoformat(),
            "hours_post_dose": str(cmax.hours_post_dose),
        },
        "latest_dose_change_at": inputs.latest_dose_change_at.isoformat()
        if inputs.latest_dose_change_at
        else None,
        "regimen": None
        if regimen is None
        else {
            "drug": regimen.drug,
            "dose_mg_per_day": regimen.dose_mg_per_day,
            "pyridoxine_mg_per_day": regimen.pyridoxine_mg_per_day,
            "isoniazid": regimen.isoniazid,
            "ethionamide": regimen.ethionamide,
            "alcohol_use": regimen.alcohol_use,
        },
    }


# --- findings into alerts ----------------------------------------------------------------------


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
    last_resolved = (
        Alert.objects.filter(
            subject=subject, category=merged.category, status=Alert.Status.RESOLVED
        )
        .order_by("-resolved_at")
        .first()
    )
    if last_resolved is not None and not any(
        inputs.entered_at[evidence_id] > last_resolved.resolved_at
        for evidence_id in (*merged.response_ids, *merged.cmax_ids)
        if evidence_id in inputs.entered_at
    ):
        return  # resolved already, and nothing new since (clinical-reference §3)
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
                escalation_tier=delivery.first_tier(subject.site_id),
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
    alert.evidence_responses.add(*merged.response_ids)
    alert.evidence_cmax_results.add(*merged.cmax_ids)
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


def evidence_of(reason: dict[str, Any]) -> set[str]:
    """Return the response and Cmax ids a reason's inputs refer to."""
    inputs = reason.get("inputs") or {}
    return {str(inputs[key]) for key in ("response_id", "cmax_id") if inputs.get(key)}


def extend_alert(alert: Alert, merged: CategoryFinding) -> bool:
    """Add a finding's new rules, reasons, actions and evidence to an unresolved alert.

    Return whether anything changed; nobody is paged (api.md "Alerts").
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
    changes: dict[str, Any] = {}
    update_fields = ["updated_at"]
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
        alert.evidence_responses.add(*new_responses)
        changes["responses_added"] = new_responses
    if new_cmax:
        alert.evidence_cmax_results.add(*new_cmax)
        changes["cmax_results_added"] = new_cmax
    record_audit(
        action="update", obj=alert, subject=alert.subject, changes=changes, reason="evaluation"
    )
    return True
