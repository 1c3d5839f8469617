"""Small factories for the phone-side tests (sites, subjects, assessments, tokens), via the ORM."""

import itertools
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from questionnaires.scoring import score
from questionnaires.services import get_current_version
from screening.models import (
    AccessToken,
    Assessment,
    Response,
    Schedule,
    ScheduleEntry,
    Site,
    SiteMembership,
    Subject,
)

_sequence = itertools.count(1)

PHQ9_ZERO = {f"phq9_{n}": 0 for n in range(1, 10)}
GAD7_ZERO = {f"gad7_{n}": 0 for n in range(1, 8)}
NEURO_ZERO = {
    code: 0
    for code in ("r_pain", "r_pins_needles", "r_numbness", "l_pain", "l_pins_needles", "l_numbness")
}
BPNS_NORMAL = {**NEURO_ZERO, "vibration_r": 15, "vibration_l": 15}
BPNS_NORMAL |= {"reflex_r": "normal", "reflex_l": "normal"}


def make_site(code: str | None = None, crisis_message: str = "Call the clinic: 0800 000 000"):
    number = next(_sequence)
    return Site.objects.create(
        code=code or f"site-{number}",
        name=f"Site {number}",
        timezone="Africa/Johannesburg",
        crisis_message=crisis_message,
    )


def make_subject(site: Site | None = None, **fields) -> Subject:
    number = next(_sequence)
    values = {
        "site": site or make_site(),
        "study_id": f"S-{number:04d}",
        "timezone": "Africa/Johannesburg",
        "language": "en",
        "treatment_start": date(2025, 1, 6),
    }
    values.update(fields)
    return Subject.objects.create(**values)


def make_assessment(
    subject: Subject,
    instrument_code: str = "PHQ-9",
    *,
    opens_at=None,
    closes_at=None,
    status: str = Assessment.Status.OPEN,
) -> Assessment:
    number = next(_sequence)
    schedule, _ = Schedule.objects.get_or_create(name=f"schedule {subject.site.code}")
    entry = ScheduleEntry.objects.create(
        schedule=schedule,
        instrument_code=instrument_code,
        time_of_day="09:00",
        offset_days=number,
    )
    opens_at = opens_at or timezone.now() - timedelta(hours=1)
    return Assessment.objects.create(
        subject=subject,
        schedule_entry=entry,
        occurrence=0,
        instrument_code=instrument_code,
        opens_at=opens_at,
        closes_at=closes_at or opens_at + timedelta(hours=72),
        status=status,
    )


def make_staff(site: Site | None = None, role: str = SiteMembership.Role.CLINICIAN):
    number = next(_sequence)
    user = get_user_model().objects.create_user(
        username=f"staff{number}", password="pass-word-123", email=f"staff{number}@example.org"
    )
    if site is not None:
        SiteMembership.objects.create(user=user, site=site, role=role)
    return user


def subject_client(subject: Subject) -> tuple[APIClient, str]:
    """Return an API client authenticated with a fresh subject token, and the token."""
    _, key = AccessToken.issue(subject=subject)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client, key


def make_response(subject: Subject, instrument_code: str = "PHQ-9", answers=None, **fields):
    """Store a staff-entered response directly (for list tests)."""
    version = get_current_version(instrument_code)
    answers = dict(PHQ9_ZERO if answers is None else answers)
    result = score(version.definition["scoring"], version.version, answers)
    values = {
        "subject": subject,
        "instrument_version": version,
        "instrument_code": instrument_code,
        "source": Response.Source.PAPER,
        "answers": answers,
        "score": result.as_dict(),
        "valid": result.valid,
        "completed_at": timezone.now() - timedelta(days=1),
    }
    values.update(fields)
    return Response.objects.create(**values)
