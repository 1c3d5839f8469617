"""The decision table of a monitoring profile: screen results, Cmax and regimen in, findings out.

Pure: no Django, no database. Every fact is from docs/clinical-reference.md §3 (default profile
"cycloserine, WHO 2014"); every threshold, window and action text is a field of ``Thresholds`` so a
monitoring profile can override it.

Validity. Rules use valid results only, with three exceptions, each because an incomplete form
already shows what a clinician must see:
- D1 (PHQ-9 item 9) also reads the latest PHQ-9 form in the look-back window when it is invalid
  (more than two items missing) and newer than the latest valid one. An item-9 answer >= 1 "starts
  a suicide-risk pathway whatever the total", and an unanswered item 9 is a positive flag, so a form
  too incomplete to score must not hide it.
- An incomplete NEURO-SX (invalid, flagged ``incomplete_with_symptoms``, with a grade) carries as
  its grade the grade of its highest answered severity, a lower bound of the true grade (the grade
  comes from the single highest severity, docs/clinical-reference.md §1). The latest such form in
  the look-back window, when completed strictly after the latest valid NEURO-SX there (or with none
  there), stands for the neuropathy symptom screen: it is a positive screen for R1, T1 and C1 and
  fires E1 when its lower bound reaches ``neuropathy_grade_positive``, and the reasons say the form
  was incomplete and the grade is "at least" N. A valid NEURO-SX completed at or after it (e.g. a
  newer complete form with grade 0) supersedes it; an incomplete form without a reported symptom
  (grade None) supersedes nothing and counts for nothing.
- A BPNS examination whose ``case`` is True counts as a case even when the form is invalid (its
  answered items already meet the case definition, ``questionnaires.scoring.score_bpns``). The BPNS
  read is the latest one in its window that is valid or has ``case`` True; an invalid BPNS with
  ``case`` None (unknown) is ignored, as if no examination had been done.

Windows. A result counts when ``now - window <= completed_at <= now`` (inclusive: exactly 14 days
old counts). ``evaluate`` re-applies the windows to its input, so a stale result passed by mistake
is ignored rather than alerted on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from questionnaires.scoring import INCOMPLETE_WITH_SYMPTOMS, ITEM9_POSITIVE, ITEM9_UNANSWERED
from screening.cmax import CmaxSample

PHQ9 = "PHQ-9"
GAD7 = "GAD-7"
NEURO_SX = "NEURO-SX"
BPNS = "BPNS"
QUESTIONNAIRES = (PHQ9, GAD7, NEURO_SX)


DISCONTINUATION = "discontinuation"
DOSE_REVIEW = "dose_review"
TDM_NEEDED = "tdm_needed"
CLINICAL_REVIEW = "clinical_review"

URGENT = "urgent"
HIGH = "high"
ROUTINE = "routine"

# Higher is more severe (docs/api.md "Alerts": a later finding raises the severity if it is higher).
CATEGORY_RANK: dict[str, int] = {
    DISCONTINUATION: 4,
    DOSE_REVIEW: 3,
    TDM_NEEDED: 2,
    CLINICAL_REVIEW: 1,
}
SEVERITY_RANK: dict[str, int] = {URGENT: 3, HIGH: 2, ROUTINE: 1}

# Rule id -> (category, severity), in the order of the table (docs/clinical-reference.md §3).
RULES: dict[str, tuple[str, str]] = {
    "D1": (DISCONTINUATION, URGENT),
    "D2": (DISCONTINUATION, URGENT),
    "D3": (DISCONTINUATION, URGENT),
    "R1": (DOSE_REVIEW, HIGH),
    "T1": (TDM_NEEDED, HIGH),
    "C1": (CLINICAL_REVIEW, ROUTINE),
    "R2": (DOSE_REVIEW, ROUTINE),
    "E1": (CLINICAL_REVIEW, ROUTINE),
}
RULE_ORDER: dict[str, int] = {rule: index for index, rule in enumerate(RULES)}


@dataclass(frozen=True)
class Thresholds:
    """Hold every threshold, window and action text of one monitoring profile version."""

    profile: str = "cycloserine, WHO 2014"
    # Positive screens (docs/clinical-reference.md §3; PHQ-9 and GAD-7 >= 10, §1).
    phq9_positive: int = 10
    gad7_positive: int = 10
    neuropathy_grade_positive: int = 1
    # D2: PHQ-9 total >= 20, the "severe" band (docs/clinical-reference.md §3).
    phq9_severe: int = 20
    # D3: PHQ-9 or GAD-7 >= 15 with Cmax above the ceiling (docs/clinical-reference.md §3).
    d3_score: int = 15
    # Ceiling: 35 µg/mL, WHO 2014; a profile may set 30, source "label"
    # (docs/clinical-reference.md §2).
    cmax_ceiling: Decimal = Decimal("35")
    cmax_ceiling_source: str = "WHO 2014"
    # Windows (docs/clinical-reference.md §3): PHQ-9/GAD-7 recall period, BPNS and Cmax recency.
    lookback_days: int = 14
    bpns_window_days: int = 28
    cmax_recency_days: int = 28
    # Pyridoxine 200 mg/day: more neuropathy than 150 mg/day
    # (Court 2021, docs/clinical-reference.md §2).
    pyridoxine_flag_mg: int = 200
    # Recommended actions (docs/clinical-reference.md §3).
    discontinuation_actions: tuple[str, ...] = (
        "Assess suicide risk and psychiatric state the same day.",
        "Suspend cycloserine pending clinical review.",
        "Confirm exposure with TDM (Cmax).",
    )
    dose_review_actions: tuple[str, ...] = (
        "Review the cycloserine dose: reduce it.",
        "Repeat TDM after the dose change.",
    )
    tdm_actions: tuple[str, ...] = (
        "Request TDM: sample 2 h post-dose (and 6 h post-dose if possible).",
    )
    neuropathy_actions: tuple[str, ...] = (
        "Review the pyridoxine dose and isoniazid/ethionamide co-medication.",
    )
    bpns_exam_action: str = (
        "Perform the BPNS examination (vibration sense and ankle reflexes): none in the last "
        "{days} days."
    )
    pyridoxine_flag_action: str = (
        "Pyridoxine is {dose_mg} mg/day (≥ {flag_mg} mg/day, associated with more neuropathy "
        "than 150 mg/day): review the pyridoxine dose."
    )
    interaction_action: str = "Interaction: {interactions} add(s) to cycloserine neurotoxicity."
    ethionamide_note: str = "ethionamide (neurotoxicity, seizures)"
    isoniazid_note: str = "isoniazid (CNS effects, neuropathy)"
    alcohol_note: str = "alcohol use (raises seizure risk)"

    def __post_init__(self) -> None:
        # A profile loaded from JSON may carry the ceiling as a string or a number.
        if not isinstance(self.cmax_ceiling, Decimal):
            object.__setattr__(self, "cmax_ceiling", Decimal(str(self.cmax_ceiling)))


@dataclass(frozen=True)
class ScreenResult:
    """Carry one scored response: its total, band, flags, validity and, for neuropathy, grade/case.

    ``item9`` is the PHQ-9 item 9 answer when known (for the reason text); D1 fires on the flags.
    ``received_at`` is when the result entered the system (for urgent events and reason texts).
    """

    response_id: str
    instrument: str
    completed_at: datetime
    total: int | None
    band: str | None
    flags: tuple[str, ...]
    valid: bool
    grade: int | None = None
    case: bool | None = None
    item9: int | None = None
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.completed_at.tzinfo is None or self.completed_at.utcoffset() is None:
            raise ValueError(f"completed_at of response {self.response_id} must be timezone-aware")


@dataclass(frozen=True)
class Regimen:
    """Carry the regimen in force at evaluation time."""

    drug: str
    dose_mg_per_day: int
    pyridoxine_mg_per_day: int | None
    isoniazid: bool
    ethionamide: bool
    alcohol_use: bool


@dataclass(frozen=True)
class EvaluationInput:
    """Carry everything the decision table reads for one subject at ``now``.

    ``latest``: the latest valid response per instrument code ("PHQ-9", "GAD-7", "NEURO-SX") within
    the look-back window; ``bpns``: the latest BPNS within its window that is valid or a case
    (``case`` True on an incomplete form); ``cmax``: the current Cmax, already selected
    (``screening.cmax.select_current_cmax``); ``phq9_invalid``: the latest PHQ-9 form in the window
    when it is invalid and newer than ``latest["PHQ-9"]`` (D1 reads it); ``neuro_incomplete``: the
    latest incomplete-with-symptoms NEURO-SX in the window when it is newer than
    ``latest["NEURO-SX"]`` (it then stands for the neuropathy symptom screen; module docstring).
    """

    now: datetime
    latest: dict[str, ScreenResult]
    bpns: ScreenResult | None
    cmax: CmaxSample | None
    regimen: Regimen | None
    phq9_invalid: ScreenResult | None = None
    neuro_incomplete: ScreenResult | None = None


@dataclass(frozen=True)
class SelectedScreens:
    """Carry the screen results the decision table reads, chosen from all recent results."""

    latest: dict[str, ScreenResult]
    bpns: ScreenResult | None
    phq9_invalid: ScreenResult | None
    neuro_incomplete: ScreenResult | None = None


@dataclass(frozen=True)
class Reason:
    """Explain one condition of a rule in plain words, with the thresholds and input values."""

    rule: str
    text: str
    inputs: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Return the reason as JSON-ready data."""
        return {"rule": self.rule, "text": self.text, "inputs": dict(self.inputs)}


@dataclass(frozen=True)
class Finding:
    """Carry what one rule found: category, severity, reasons, actions and the evidence ids."""

    rule: str
    category: str
    severity: str
    reasons: tuple[Reason, ...]
    recommended_actions: tuple[str, ...]
    response_ids: tuple[str, ...]
    cmax_ids: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-ready data."""
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "reasons": [reason.as_dict() for reason in self.reasons],
            "recommended_actions": list(self.recommended_actions),
            "response_ids": list(self.response_ids),
            "cmax_ids": list(self.cmax_ids),
        }


def is_within(completed_at: datetime, *, now: datetime, days: int) -> bool:
    """Return whether a time lies in the window of ``days`` ending at ``now``, edges included."""
    return now - timedelta(days=days) <= completed_at <= now


def pick_latest(results: Iterable[ScreenResult]) -> ScreenResult | None:
    """Return the result completed last; on a tie the greatest response id."""
    return max(results, key=lambda r: (r.completed_at, r.response_id), default=None)


def is_incomplete_with_symptoms(result: ScreenResult) -> bool:
    """Tell whether a result is an incomplete NEURO-SX with a reported symptom and a grade.

    The grade is that of the highest answered severity (``questionnaires.scoring``).
    """
    return (
        result.instrument == NEURO_SX
        and not result.valid
        and INCOMPLETE_WITH_SYMPTOMS in result.flags
        and result.grade is not None
    )


def counts_as_bpns(result: ScreenResult) -> bool:
    """Tell whether a BPNS result is read: valid, or invalid but certainly a case."""
    return result.instrument == BPNS and (result.valid or result.case is True)


def select_latest_screens(
    results: Iterable[ScreenResult], *, now: datetime, thresholds: Thresholds
) -> SelectedScreens:
    """Pick the latest valid result per instrument in its window (docs/clinical-reference.md §3).

    Also pick, as the module docstring explains: the newest PHQ-9 in the window if it is invalid
    (``phq9_invalid``, for D1); the latest incomplete-with-symptoms NEURO-SX in the window if it
    was completed strictly after the latest valid NEURO-SX there (``neuro_incomplete``); and as
    ``bpns`` the latest BPNS in its window that is valid or has ``case`` True.
    """
    results = list(results)
    latest: dict[str, ScreenResult] = {}
    for instrument in QUESTIONNAIRES:
        in_window = [
            r
            for r in results
            if r.instrument == instrument
            and is_within(r.completed_at, now=now, days=thresholds.lookback_days)
        ]
        chosen = pick_latest(r for r in in_window if r.valid)
        if chosen is not None:
            latest[instrument] = chosen
    bpns = pick_latest(
        r
        for r in results
        if counts_as_bpns(r)
        and is_within(r.completed_at, now=now, days=thresholds.bpns_window_days)
    )
    neuro_incomplete = newer_incomplete_neuro(
        (
            r
            for r in results
            if is_within(r.completed_at, now=now, days=thresholds.lookback_days)
            and is_incomplete_with_symptoms(r)
        ),
        valid=latest.get(NEURO_SX),
    )
    newest_phq9 = pick_latest(
        r
        for r in results
        if r.instrument == PHQ9
        and is_within(r.completed_at, now=now, days=thresholds.lookback_days)
    )
    phq9_invalid = newest_phq9 if newest_phq9 is not None and not newest_phq9.valid else None
    return SelectedScreens(
        latest=latest, bpns=bpns, phq9_invalid=phq9_invalid, neuro_incomplete=neuro_incomplete
    )


def newer_incomplete_neuro(
    incomplete: Iterable[ScreenResult], *, valid: ScreenResult | None
) -> ScreenResult | None:
    """Return the latest incomplete NEURO-SX if completed strictly after ``valid`` (or no valid)."""
    chosen = pick_latest(incomplete)
    if chosen is None or (valid is not None and chosen.completed_at <= valid.completed_at):
        return None
    return chosen


def describe_response(result: ScreenResult) -> dict[str, Any]:
    """Return the identifying inputs of a response for a reason."""
    described = {
        "instrument": result.instrument,
        "response_id": result.response_id,
        "completed_at": result.completed_at.isoformat(),
        "valid": result.valid,
    }
    if result.received_at is not None:
        described["received_at"] = result.received_at.isoformat()
    return described


def days_ago(moment: datetime, *, now: datetime) -> str:
    """Return "today", "1 day ago" or "N days ago": whole days elapsed between moment and now."""
    days = max((now - moment).days, 0)
    return "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"


def describe_timing(result: ScreenResult, *, now: datetime) -> str:
    """Return "completed 20 days ago, entered today" when the two differ by whole days, else ""."""
    if result.received_at is None:
        return ""
    completed = days_ago(result.completed_at, now=now)
    entered = days_ago(result.received_at, now=now)
    return "" if completed == entered else f"completed {completed}, entered {entered}"


def describe_cmax(cmax: CmaxSample, thresholds: Thresholds) -> dict[str, Any]:
    """Return the inputs of a Cmax comparison for a reason."""
    return {
        "cmax_id": cmax.id,
        "cmax_ug_per_ml": str(cmax.value_ug_per_ml),
        "sampled_at": cmax.sampled_at.isoformat(),
        "hours_post_dose": str(cmax.hours_post_dose),
        "ceiling_ug_per_ml": str(thresholds.cmax_ceiling),
        "ceiling_source": thresholds.cmax_ceiling_source,
    }


def check_item9(result: ScreenResult) -> Reason | None:
    """Return the D1 reason if a PHQ-9 form flags item 9 as positive or unanswered."""
    inputs = describe_response(result) | {"item9": result.item9, "threshold": 1}
    # D1: PHQ-9 item 9 >= 1 -> urgent, whatever the total (docs/clinical-reference.md §1, §3)
    if ITEM9_POSITIVE in result.flags or (result.item9 is not None and result.item9 >= 1):
        answer = f"answered {result.item9} (≥ 1)" if result.item9 is not None else "answered ≥ 1"
        text = f"PHQ-9 item 9 {answer}: thoughts of being better off dead or of self-harm"
        return Reason("D1", text, inputs | {"flag": ITEM9_POSITIVE})
    # D1: an unanswered item 9 is a positive flag, never 0 (docs/clinical-reference.md §1)
    if ITEM9_UNANSWERED in result.flags:
        text = "PHQ-9 item 9 not answered: ask directly about thoughts of self-harm"
        return Reason("D1", text, inputs | {"flag": ITEM9_UNANSWERED})
    return None


def find_positive_screens(
    latest: dict[str, ScreenResult], bpns: ScreenResult | None, thresholds: Thresholds
) -> list[tuple[Reason, bool]]:
    """Return a reason per positive screen, each with whether it is a neuropathy screen."""
    found: list[tuple[Reason, bool]] = []
    phq9, gad7, neuro = latest.get(PHQ9), latest.get(GAD7), latest.get(NEURO_SX)
    # Positive screen: PHQ-9 >= 10 (docs/clinical-reference.md §1, §3)
    if phq9 is not None and phq9.total is not None and phq9.total >= thresholds.phq9_positive:
        text = (
            f"PHQ-9 total {phq9.total} (≥ {thresholds.phq9_positive}): positive depression screen"
        )
        inputs = describe_response(phq9) | {
            "total": phq9.total,
            "threshold": thresholds.phq9_positive,
        }
        found.append((Reason("", text, inputs), False))
    # Positive screen: GAD-7 >= 10 (docs/clinical-reference.md §1, §3)
    if gad7 is not None and gad7.total is not None and gad7.total >= thresholds.gad7_positive:
        text = f"GAD-7 total {gad7.total} (≥ {thresholds.gad7_positive}): positive anxiety screen"
        inputs = describe_response(gad7) | {
            "total": gad7.total,
            "threshold": thresholds.gad7_positive,
        }
        found.append((Reason("", text, inputs), False))
    # Positive screen: neuropathy symptom grade >= 1 (docs/clinical-reference.md §1, §3); on an
    # incomplete form the grade is a lower bound, so reaching the threshold is certain.
    if (
        neuro is not None
        and neuro.grade is not None
        and neuro.grade >= thresholds.neuropathy_grade_positive
    ):
        text = (
            f"{describe_neuro_grade(neuro)} (≥ {thresholds.neuropathy_grade_positive}): "
            "positive neuropathy symptom screen"
        )
        inputs = describe_neuro(neuro) | {"threshold": thresholds.neuropathy_grade_positive}
        found.append((Reason("", text, inputs), True))
    # Positive screen: the BPNS examination is a case
    # (Cherry 2005; docs/clinical-reference.md §1, §3)
    if bpns is not None and bpns.case is True:
        text = "BPNS examination meets the neuropathy case definition (symptoms and signs)"
        inputs = describe_response(bpns) | {"case": True, "grade": bpns.grade}
        if not bpns.valid:
            # An incomplete form is a case only if certainly one (questionnaires.scoring).
            text = (
                "BPNS examination incomplete, but its answered items already meet the "
                "neuropathy case definition (symptoms and signs)"
            )
            inputs |= {"grade_is_lower_bound": True, "flag": INCOMPLETE_WITH_SYMPTOMS}
        found.append((Reason("", text, inputs), True))
    return found


def describe_neuro_grade(neuro: ScreenResult) -> str:
    """Return "Neuropathy symptom grade N", or its incomplete-form lower-bound wording."""
    if neuro.valid:
        return f"Neuropathy symptom grade {neuro.grade}"
    return (
        f"Neuropathy symptom form incomplete: grade at least {neuro.grade} from the answered items"
    )


def describe_neuro(neuro: ScreenResult) -> dict[str, Any]:
    """Return the inputs of a neuropathy symptom grade for a reason."""
    inputs = describe_response(neuro) | {"grade": neuro.grade}
    if not neuro.valid:
        inputs |= {"grade_is_lower_bound": True, "flag": INCOMPLETE_WITH_SYMPTOMS}
    return inputs


def list_interactions(regimen: Regimen | None, thresholds: Thresholds) -> list[str]:
    """Return the notes on co-medication and alcohol that add to neurotoxicity."""
    if regimen is None:
        return []
    notes = []
    # Ethionamide, isoniazid and alcohol add neurotoxicity (docs/clinical-reference.md §2)
    if regimen.ethionamide:
        notes.append(thresholds.ethionamide_note)
    if regimen.isoniazid:
        notes.append(thresholds.isoniazid_note)
    if regimen.alcohol_use:
        notes.append(thresholds.alcohol_note)
    return notes


def list_neuropathy_actions(inp: EvaluationInput, bpns_recent: bool, t: Thresholds) -> list[str]:
    """Return the neuropathy actions: pyridoxine and co-medication review, BPNS if none recent."""
    actions = list(t.neuropathy_actions)
    pyridoxine = inp.regimen.pyridoxine_mg_per_day if inp.regimen is not None else None
    # Pyridoxine >= 200 mg/day: flag (Court 2021; docs/clinical-reference.md §2, §3)
    if pyridoxine is not None and pyridoxine >= t.pyridoxine_flag_mg:
        actions.append(
            t.pyridoxine_flag_action.format(dose_mg=pyridoxine, flag_mg=t.pyridoxine_flag_mg)
        )
    if not bpns_recent:
        actions.append(t.bpns_exam_action.format(days=t.bpns_window_days))
    return actions


def collect_ids(reasons: Iterable[Reason], key: str) -> tuple[str, ...]:
    """Return the distinct ids under ``key`` in the reasons' inputs, in order of appearance."""
    ids: list[str] = []
    for reason in reasons:
        value = reason.inputs.get(key)
        if value is not None and value not in ids:
            ids.append(value)
    return tuple(ids)


def evaluate(inp: EvaluationInput, thresholds: Thresholds) -> list[Finding]:
    """Apply the decision table D1–E1 and return the findings, most severe first."""
    t = thresholds
    latest = {
        code: result
        for code, result in inp.latest.items()
        if code in QUESTIONNAIRES
        and result.instrument == code
        and result.valid
        and is_within(result.completed_at, now=inp.now, days=t.lookback_days)
    }
    bpns = inp.bpns
    if bpns is not None and not (
        counts_as_bpns(bpns) and is_within(bpns.completed_at, now=inp.now, days=t.bpns_window_days)
    ):
        bpns = None
    phq9 = latest.get(PHQ9)
    gad7 = latest.get(GAD7)
    # The neuropathy symptom screen: the latest valid NEURO-SX, or a strictly newer incomplete
    # one with a lower-bound grade (module docstring). latest["NEURO-SX"] is read here whatever
    # its validity, in case a caller passed an incomplete form there.
    incomplete_neuro = newer_incomplete_neuro(
        (
            form
            for form in (inp.latest.get(NEURO_SX), inp.neuro_incomplete)
            if form is not None
            and is_incomplete_with_symptoms(form)
            and is_within(form.completed_at, now=inp.now, days=t.lookback_days)
        ),
        valid=latest.get(NEURO_SX),
    )
    neuro = incomplete_neuro or latest.get(NEURO_SX)

    # reasons per rule, plus whether a neuropathy screen is among them
    fired: dict[str, tuple[list[Reason], bool]] = {}

    # D1: PHQ-9 item 9 >= 1 or unanswered -> urgent (docs/clinical-reference.md §3); also read a
    # newer invalid form, since an incomplete form must not hide a self-harm answer (module
    # docstring).
    # latest["PHQ-9"] is read here whatever its validity, in case a caller passed an invalid form.
    item9_forms: list[ScreenResult] = []
    for form in (inp.latest.get(PHQ9), inp.phq9_invalid):
        if (
            form is not None
            and form.instrument == PHQ9
            and is_within(form.completed_at, now=inp.now, days=t.lookback_days)
            and all(form.completed_at > other.completed_at for other in item9_forms)
        ):
            item9_forms.append(form)
    d1_reasons = [r for r in (check_item9(form) for form in item9_forms) if r is not None]
    if d1_reasons:
        fired["D1"] = (d1_reasons, False)

    # D2: PHQ-9 total >= 20 -> urgent (docs/clinical-reference.md §3)
    if phq9 is not None and phq9.total is not None and phq9.total >= t.phq9_severe:
        text = f"PHQ-9 total {phq9.total} (≥ {t.phq9_severe}): severe depressive symptoms"
        inputs = describe_response(phq9) | {"total": phq9.total, "threshold": t.phq9_severe}
        fired["D2"] = ([Reason("D2", text, inputs)], False)

    cmax = inp.cmax
    # Above the ceiling: current Cmax strictly > ceiling; 35.0 is not above
    # (docs/clinical-reference.md §3)
    above = cmax is not None and cmax.value_ug_per_ml > t.cmax_ceiling
    cmax_reason: Reason | None = None
    if cmax is not None:
        relation = "above" if above else "at or below"
        sign = ">" if above else "≤"
        text = (
            f"Current Cmax {cmax.value_ug_per_ml} µg/mL ({sign} {t.cmax_ceiling} µg/mL): "
            f"{relation} the ceiling ({t.cmax_ceiling_source})"
        )
        cmax_reason = Reason("", text, describe_cmax(cmax, t) | {"above_ceiling": above})

    # D3: (PHQ-9 >= 15 or GAD-7 >= 15) and Cmax above the ceiling -> urgent
    # (docs/clinical-reference.md §3)
    if above and cmax_reason is not None:
        d3_reasons = []
        for result in (phq9, gad7):
            if result is not None and result.total is not None and result.total >= t.d3_score:
                text = f"{result.instrument} total {result.total} (≥ {t.d3_score})"
                inputs = describe_response(result) | {
                    "total": result.total,
                    "threshold": t.d3_score,
                }
                d3_reasons.append(Reason("D3", text, inputs))
        if d3_reasons:
            fired["D3"] = ([*d3_reasons, with_rule(cmax_reason, "D3")], False)

    screens = latest if neuro is None else {**latest, NEURO_SX: neuro}
    positives = find_positive_screens(screens, bpns, t)
    positive = bool(positives)
    neuropathy_positive = any(is_neuro for _, is_neuro in positives)

    def with_positives(rule: str) -> list[Reason]:
        return [with_rule(reason, rule) for reason, _ in positives]

    # R1: a positive screen and Cmax above the ceiling -> dose review, high
    # (docs/clinical-reference.md §3)
    if positive and above and cmax_reason is not None:
        fired["R1"] = ([*with_positives("R1"), with_rule(cmax_reason, "R1")], neuropathy_positive)
    # T1: a positive screen and no current Cmax -> TDM needed, high (docs/clinical-reference.md §3)
    if positive and cmax is None:
        text = (
            f"No current Cmax: none within {t.cmax_recency_days} days and after the latest dose "
            "change"
        )
        no_cmax = Reason("T1", text, {"cmax_id": None, "recency_days": t.cmax_recency_days})
        fired["T1"] = ([*with_positives("T1"), no_cmax], neuropathy_positive)
    # C1: a positive screen and Cmax at or below the ceiling -> routine
    # (docs/clinical-reference.md §3)
    if positive and cmax is not None and not above and cmax_reason is not None:
        fired["C1"] = ([*with_positives("C1"), with_rule(cmax_reason, "C1")], neuropathy_positive)
    # R2: Cmax above the ceiling and no positive screen -> routine (docs/clinical-reference.md §3)
    if above and not positive and cmax_reason is not None:
        text = (
            "No positive screen (PHQ-9, GAD-7, neuropathy symptoms, BPNS) in the look-back window"
        )
        no_screen = Reason("R2", text, {"positive_screen": False})
        fired["R2"] = ([with_rule(cmax_reason, "R2"), no_screen], False)
    # E1: neuropathy symptom grade >= 1 and no BPNS within 28 days (docs/clinical-reference.md §3)
    if (
        neuro is not None
        and neuro.grade is not None
        and neuro.grade >= t.neuropathy_grade_positive
        and bpns is None
    ):
        text = (
            f"{describe_neuro_grade(neuro)} (≥ {t.neuropathy_grade_positive}) and no "
            f"BPNS examination in the last {t.bpns_window_days} days"
        )
        inputs = describe_neuro(neuro) | {
            "threshold": t.neuropathy_grade_positive,
            "bpns_window_days": t.bpns_window_days,
        }
        fired["E1"] = ([Reason("E1", text, inputs)], True)

    return build_findings(fired, inp, t, bpns_recent=bpns is not None)


def urgent_findings(
    new_results: Iterable[ScreenResult], inp: EvaluationInput, thresholds: Thresholds
) -> list[Finding]:
    """Return the urgent findings each newly received result meets on its own (D1, D2, D3).

    Urgent findings are events as well as states (docs/clinical-reference.md §4.1): a newly received
    form that by itself meets D1 (item 9 >= 1 or unanswered, on any PHQ-9 form, valid or not), D2 (a
    valid PHQ-9 total >= 20) or D3 (a valid PHQ-9 or GAD-7 total >= 15 with the current Cmax above
    the ceiling) fires whatever newer results exist and whatever its completion time: a paper form
    completed weeks ago and entered today reaches a clinician today, and a benign form received in
    the same evaluation does not hide it. The reasons say when the form was completed and when it
    was entered where the two differ. ``inp.cmax`` is the current Cmax (for D3).
    """
    t = thresholds
    cmax = inp.cmax
    above = cmax is not None and cmax.value_ug_per_ml > t.cmax_ceiling
    fired: dict[str, tuple[list[Reason], bool]] = {}

    def add(rule: str, reason: Reason) -> None:
        fired.setdefault(rule, ([], False))[0].append(reason)

    for result in sorted(new_results, key=lambda r: (r.completed_at, r.response_id)):
        timing = describe_timing(result, now=inp.now)

        def timed(reason: Reason, timing: str = timing) -> Reason:
            if not timing:
                return reason
            return Reason(reason.rule, f"{reason.text} ({timing})", dict(reason.inputs))

        total = result.total if result.valid else None
        if result.instrument == PHQ9:
            item9 = check_item9(result)
            if item9 is not None:
                add("D1", timed(item9))
            # D2: PHQ-9 total >= 20 -> urgent (docs/clinical-reference.md §3)
            if total is not None and total >= t.phq9_severe:
                text = f"PHQ-9 total {total} (≥ {t.phq9_severe}): severe depressive symptoms"
                inputs = describe_response(result) | {"total": total, "threshold": t.phq9_severe}
                add("D2", timed(Reason("D2", text, inputs)))
        # D3: PHQ-9 or GAD-7 >= 15 and the current Cmax above the ceiling
        # (docs/clinical-reference.md §3)
        if (
            above
            and cmax is not None
            and result.instrument in (PHQ9, GAD7)
            and total is not None
            and total >= t.d3_score
        ):
            text = f"{result.instrument} total {total} (≥ {t.d3_score})"
            inputs = describe_response(result) | {"total": total, "threshold": t.d3_score}
            add("D3", timed(Reason("D3", text, inputs)))
            relation = (
                f"Current Cmax {cmax.value_ug_per_ml} µg/mL (> {t.cmax_ceiling} µg/mL): "
                f"above the ceiling ({t.cmax_ceiling_source})"
            )
            cmax_reason = Reason("D3", relation, describe_cmax(cmax, t) | {"above_ceiling": True})
            if cmax_reason not in fired["D3"][0]:
                add("D3", cmax_reason)
    return build_findings(fired, inp, t, bpns_recent=False)


def build_findings(
    fired: dict[str, tuple[list[Reason], bool]],
    inp: EvaluationInput,
    t: Thresholds,
    *,
    bpns_recent: bool,
) -> list[Finding]:
    """Turn the reasons of each fired rule into findings with their actions, most severe first.

    ``fired`` maps a rule id to its reasons and whether a neuropathy screen is among them.
    """
    interactions = list_interactions(inp.regimen, t)
    findings = []
    for rule, (reasons, neuropathy) in fired.items():
        category, severity = RULES[rule]
        actions = list(actions_for_category(category, t))
        if neuropathy:
            actions.extend(list_neuropathy_actions(inp, bpns_recent=bpns_recent, t=t))
        if interactions:
            # Any finding on ethionamide/isoniazid or with alcohol use: mention it (clinical-ref §3)
            actions.append(t.interaction_action.format(interactions=", ".join(interactions)))
        findings.append(
            Finding(
                rule=rule,
                category=category,
                severity=severity,
                reasons=tuple(reasons),
                recommended_actions=tuple(dict.fromkeys(actions)),
                response_ids=collect_ids(reasons, "response_id"),
                cmax_ids=collect_ids(reasons, "cmax_id"),
            )
        )
    return sorted(
        findings,
        key=lambda f: (-CATEGORY_RANK[f.category], -SEVERITY_RANK[f.severity], RULE_ORDER[f.rule]),
    )


def with_rule(reason: Reason, rule: str) -> Reason:
    """Return a copy of a shared reason attributed to ``rule``."""
    return Reason(rule, reason.text, dict(reason.inputs))


def actions_for_category(category: str, t: Thresholds) -> tuple[str, ...]:
    """Return the profile's recommended actions for a category."""
    # D1–D3 / R1, R2 / T1 actions (docs/clinical-reference.md §3); C1 and E1 add neuropathy
    # actions only.
    return {
        DISCONTINUATION: t.discontinuation_actions,
        DOSE_REVIEW: t.dose_review_actions,
        TDM_NEEDED: t.tdm_actions,
        CLINICAL_REVIEW: (),
    }[category]
