"""Re-exports of tests.factories under the phone-side helpers' old names and signatures.

Kept only so tests written in parallel branches still import; the suite uses tests.factories.
Delete after those branches are merged.
"""

from datetime import date, timedelta

from django.utils import timezone

from screening.models import Assessment, Site, SiteMembership, Subject
from tests.factories import BPNS_NORMAL as BPNS_NORMAL
from tests.factories import GAD7_ZERO as GAD7_ZERO
from tests.factories import NEURO_ZERO as NEURO_ZERO
from tests.factories import PHQ9_ZERO as PHQ9_ZERO
from tests.factories import (
    AssessmentFactory,
    ResponseFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
)
from tests.factories import subject_client as subject_client


def make_site(code: str | None = None, crisis_message: str = "Call the clinic: 0800 000 000"):
    return SiteFactory(**({"code": code} if code else {}), crisis_message=crisis_message)


def make_subject(site: Site | None = None, **fields) -> Subject:
    fields.setdefault("treatment_start", date(2025, 1, 6))
    return SubjectFactory(site=site or make_site(), **fields)


def make_assessment(
    subject: Subject,
    instrument_code: str = "PHQ-9",
    *,
    opens_at=None,
    closes_at=None,
    status: str = Assessment.Status.OPEN,
) -> Assessment:
    times = {"opens_at": opens_at, "closes_at": closes_at}
    return AssessmentFactory(
        subject=subject,
        instrument=instrument_code,
        status=status,
        **{name: value for name, value in times.items() if value is not None},
    )


def make_staff(site: Site | None = None, role: str = SiteMembership.Role.CLINICIAN):
    return UserFactory(site=site, site__role=role)


def make_response(subject: Subject, instrument_code: str = "PHQ-9", answers=None, **fields):
    fields.setdefault("completed_at", timezone.now() - timedelta(days=1))
    if answers is not None:
        fields["answers"] = dict(answers)
    return ResponseFactory(subject=subject, instrument_code=instrument_code, **fields)
