"""Re-exports of tests.factories under the evaluation helpers' old names and signatures.

Kept only so tests written in parallel branches still import; the suite uses tests.factories.
Delete after those branches are merged.
"""

from datetime import datetime
from decimal import Decimal

from screening.models import CmaxResult, RegimenChange, Response, Site, Subject
from tests.factories import (
    CmaxResultFactory,
    RegimenChangeFactory,
    ResponseFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
)
from tests.factories import gad7_answers as gad7_answers
from tests.factories import neuro_answers as neuro_answers
from tests.factories import phq9_answers as phq9_answers


def _given(**values) -> dict:
    return {name: value for name, value in values.items() if value is not None}


def make_site(code: str | None = None) -> Site:
    return SiteFactory(**_given(code=code), crisis_message="")


def make_staff(site: Site | None = None, *, role: str = "clinician", username: str | None = None):
    """A member of the site without an email address (so no implicit email channel)."""
    return UserFactory(**_given(username=username), email="", site=site, site__role=role)


def make_subject(site: Site | None = None, *, study_id: str | None = None, **fields) -> Subject:
    return SubjectFactory(site=site or make_site(), **_given(study_id=study_id), **fields)


def make_response(
    subject: Subject,
    instrument: str,
    answers: dict,
    *,
    completed_at: datetime | None = None,
    received_at: datetime | None = None,
    source: str = "phone",
) -> Response:
    return ResponseFactory(
        subject=subject,
        instrument_code=instrument,
        answers=answers,
        source=source,
        **_given(completed_at=completed_at, received_at=received_at),
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
    return CmaxResultFactory(
        subject=subject,
        value=value,
        unit=unit,
        hours_post_dose=hours_post_dose,
        **_given(sampled_at=sampled_at, lab_reference=lab_reference, created_at=created_at),
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
    return RegimenChangeFactory(
        subject=subject,
        effective_from=effective_from,
        drug=drug,
        dose_mg_per_day=dose_mg_per_day,
        pyridoxine_mg_per_day=pyridoxine_mg_per_day,
        **fields,
    )
