"""The decision table's inputs for a subject at an instant, and their snapshot.

Inputs (docs/clinical-reference.md §3), as of ``now``:
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

``gather_inputs`` reads them in four queries; ``snapshot_inputs`` is the JSON stored on an alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models.functions import Least

from questionnaires.scoring import PHQ9_ITEM9, Score
from screening.cmax import CmaxSample, select_current_cmax
from screening.models import (
    CmaxResult,
    MonitoringProfile,
    RegimenChange,
    Response,
    Subject,
)
from screening.rules import (
    PHQ9,
    EvaluationInput,
    Regimen,
    ScreenResult,
    Thresholds,
    select_latest_screens,
)
from screening.services.profiles import DEFAULT_DRUG, current_profile, thresholds_for

RESPONSE_FIELDS = (
    "id",
    "instrument_code",
    "completed_at",
    "received_at",
    "score",
    "valid",
    "answers",
)
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
    # Responses received since the subject was last evaluated (their outbox rows were pending),
    # whatever their completion time: the urgent rules judge each one on its own
    # (rules.urgent_findings).
    new_screens: list[ScreenResult] = field(default_factory=list)


def gather_inputs(
    subject: Subject, *, now: datetime, new_response_ids: Iterable[str] = ()
) -> GatheredInputs:
    """Read the subject's regimen, profile, recent responses and Cmax samples (four queries).

    ``new_response_ids`` are the responses received since the last evaluation (one more query
    when there are any): they are read whatever their completion time, as ``new_screens``.
    """
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
        .only(*RESPONSE_FIELDS)
    )
    screens = []
    for response in responses:
        screens.append(to_screen_result(response, completed_at=response.known_completed_at))
        entered_at[str(response.pk)] = response.received_at
    new_screens = []
    new_ids = [str(pk) for pk in new_response_ids]
    if new_ids:
        for response in (
            Response.objects.filter(subject=subject, id__in=new_ids, received_at__lte=now)
            .annotate(known_completed_at=Least("completed_at", "received_at"))
            .only(*RESPONSE_FIELDS)
        ):
            new_screens.append(to_screen_result(response, completed_at=response.known_completed_at))
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
        new_screens=new_screens,
    )


def decision_input(inputs: GatheredInputs) -> EvaluationInput:
    """Select what the decision table reads from the gathered inputs (pure selection).

    The latest valid result per instrument in its window and the incomplete forms the rules
    still read (``rules.select_latest_screens``), and the current Cmax (``cmax``).
    """
    selected = select_latest_screens(inputs.screens, now=inputs.now, thresholds=inputs.thresholds)
    cmax = select_current_cmax(
        inputs.samples,
        now=inputs.now,
        recency_days=inputs.thresholds.cmax_recency_days,
        latest_dose_change_at=inputs.latest_dose_change_at,
    )
    return EvaluationInput(
        now=inputs.now,
        latest=selected.latest,
        bpns=selected.bpns,
        cmax=cmax,
        regimen=inputs.regimen,
        phq9_invalid=selected.phq9_invalid,
        neuro_incomplete=selected.neuro_incomplete,
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


def to_screen_result(response: Response, *, completed_at: datetime | None = None) -> ScreenResult:
    """Map a stored response and its score (``Score.from_dict``) to the decision table's input.

    ``completed_at`` overrides the stored completion time (``gather_inputs`` passes the time
    capped at receipt). Validity is the response's own column, which the score agrees with.
    """
    score = Score.from_dict(response.score)
    item9 = None
    if response.instrument_code == PHQ9 and isinstance(response.answers, dict):
        answer = response.answers.get(PHQ9_ITEM9)
        item9 = answer if isinstance(answer, int) and not isinstance(answer, bool) else None
    return ScreenResult(
        response_id=str(response.pk),
        instrument=response.instrument_code,
        completed_at=completed_at or response.completed_at,
        total=score.total,
        band=score.band,
        flags=score.flags,
        valid=bool(response.valid),
        grade=score.grade,
        case=score.case,
        item9=item9,
        received_at=response.received_at,
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
