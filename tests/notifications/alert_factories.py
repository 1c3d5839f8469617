"""Small builders of the rows an evaluation reads: sites, staff, subjects, responses, Cmax."""

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from questionnaires.scoring import score
from questionnaires.services import get_current_version
from screening.cmax import convert_to_ug_per_ml
from screening.models import (
    CmaxResult,
    RegimenChange,
    Response,
    Site,
    SiteMembership,
    Subject,
)

_numbers = itertools.count(1)


def make_site(code: str | None = None) -> Site:
    number = next(_numbers)
    return Site.objects.create(
        code=code or f"site-{number}", name=f"Site {number}", timezone="Africa/Johannesburg"
    )


def make_staff(site: Site | None = None, *, role: str = "clinician", username: str | None = None):
    user = get_user_model().objects.create_user(
        username=username or f"staff-{next(_numbers)}", password="pass-123-long"
    )
    if site is not None:
        SiteMembership.objects.create(user=user, site=site, role=role)
    return user


def make_subject(site: Site | None = None, *, study_id: str | None = None, **fields) -> Subject:
    values = {
        "site": site or make_site(),
        "study_id": study_id or f"S-{next(_numbers):04d}",
        "timezone": "Africa/Johannesburg",
        "treatment_start": (timezone.now() - timedelta(days=60)).date(),
    }
    values.update(fields)
    return Subject.objects.create(**values)


def phq9_answers(total: int, *, item9: int | None = 0) -> dict:
    """Return PHQ-9 answers summing to ``total`` with the given item 9 answer."""
    answers: dict = {"phq9_9": item9} if item9 is not None else {}
    remaining = total - (item9 or 0)
    for number in range(1, 9):
        value = min(3, max(0, remaining))
        answers[f"phq9_{number}"] = value
        remaining -= value
    assert remaining == 0, "total not reachable"
    return answers


def gad7_answers(total: int) -> dict:
    answers = {}
    remaining = total
    for number in range(1, 8):
        value = min(3, max(0, remaining))
        answers[f"gad7_{number}"] = value
        remaining -= value
    return answers


def neuro_answers(highest: int) -> dict:
    return {
        "r_pain": highest,
        "r_pins_needles": 0,
        "r_numbness": 0,
        "l_pain": 0,
        "l_pins_needles": 0,
        "l_numbness": 0,
    }


def make_response(
    subject: Subject,
    instrument: str,
    answers: dict,
    *,
    completed_at: datetime | None = None,
    received_at: datetime | None = None,
    source: str = "phone",
) -> Response:
    """Store a scored response, as the submission services do."""
    version = get_current_version(instrument)
    result = score(instrument, version.version, answers)
    completed_at = completed_at or timezone.now() - timedelta(hours=1)
    return Response.objects.create(
        subject=subject,
        instrument_version=version,
        instrument_code=instrument,
        source=source,
        answers=answers,
        score=result.as_dict(),
        valid=result.valid,
        completed_at=completed_at,
        received_at=received_at or max(completed_at, timezone.now()),
    )


def make_cmax(
    subject: Subject,
    value: str | Decimal,
    *,
    sampled_at: datetime | None = None,
    hours_post_dose: str = "2",
    unit: str = "ug/mL",
    lab_reference: str | None = None,
    created_at: datetime | None = None,
) -> CmaxResult:
    value = Decimal(value)
    return CmaxResult.objects.create(
        subject=subject,
        value=value,
        unit=unit,
        value_ug_per_ml=convert_to_ug_per_ml(value, unit),
        sampled_at=sampled_at or timezone.now() - timedelta(hours=3),
        hours_post_dose=Decimal(hours_post_dose),
        dose_mg=750,
        lab_reference=lab_reference or f"LAB-{next(_numbers)}",
        created_at=created_at or timezone.now(),
    )


def make_regimen(
    subject: Subject,
    *,
    effective_from: datetime,
    dose_mg_per_day: int = 750,
    pyridoxine_mg_per_day: int = 150,
    drug: str = "cycloserine",
    **fields,
) -> RegimenChange:
    return RegimenChange.objects.create(
        subject=subject,
        effective_from=effective_from,
        drug=drug,
        dose_mg_per_day=dose_mg_per_day,
        pyridoxine_mg_per_day=pyridoxine_mg_per_day,
        **fields,
    )
