"""Benchmarks of the clinical hot paths: the alert list and the evaluation of one subject."""

from datetime import timedelta
from decimal import Decimal

from . import Case, benchmark

ALERTS = 500


def arrange_site(code: str):
    """Create a site, an admin with a token, and return (site, client)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from screening.models import AccessToken, Site

    site = Site.objects.create(code=code, name=code, timezone="Africa/Johannesburg")
    admin = get_user_model().objects.create_user(username=f"{code}-admin", is_staff=True)
    _, key = AccessToken.issue(user=admin)
    return site, Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def make_subject(site, n: int):
    from django.utils import timezone

    from screening.models import Subject

    return Subject.objects.create(
        site=site,
        study_id=f"B{n:05d}",
        timezone="Africa/Johannesburg",
        treatment_start=timezone.localdate() - timedelta(days=30),
    )


def checked(client, path: str):
    def call() -> None:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")

    return call


@benchmark(f"GET /api/v1/alerts/ (first page of {ALERTS})", baseline="GET /healthz (same client)")
def alert_list() -> Case:
    from notifications.models import Alert
    from screening.services.profiles import current_profile

    site, client = arrange_site("bench-alerts")
    profile = current_profile()
    Alert.objects.bulk_create(
        Alert(
            subject=make_subject(site, n),
            category=Alert.Category.CLINICAL_REVIEW,
            severity=Alert.Severity.ROUTINE,
            rules=["C1"],
            reasons=[{"rule": "C1", "text": "PHQ-9 total 12 (>= 10)", "inputs": {}}],
            profile=profile,
        )
        for n in range(ALERTS)
    )
    return Case(subject=checked(client, "/api/v1/alerts/"), baseline=checked(client, "/healthz"))


@benchmark(
    "re-evaluate a subject with scores, Cmax and an open alert", baseline="load the subject by id"
)
def evaluation() -> Case:
    from django.utils import timezone

    from notifications.evaluation import evaluate_subject
    from questionnaires.scoring import score_definition
    from questionnaires.services import get_current_version
    from screening.models import CmaxResult, Response, Subject

    site, _ = arrange_site("bench-evaluation")
    subject = make_subject(site, 0)
    now = timezone.now()
    for code, answers in [
        ("PHQ-9", {**{f"phq9_{n}": 1 for n in range(1, 9)}, "phq9_9": 0, "phq9_10": 0}),
        ("GAD-7", {f"gad7_{n}": 2 for n in range(1, 8)}),
    ]:
        version = get_current_version(code)
        assert version is not None, code
        result = score_definition(version.definition, answers)
        Response.objects.create(
            subject=subject,
            instrument_version=version,
            instrument_code=code,
            answers=answers,
            score=result.as_dict(),
            valid=result.valid,
            completed_at=now - timedelta(days=1),
        )
    CmaxResult.objects.create(
        subject=subject,
        value=Decimal("38"),
        unit="ug/mL",
        value_ug_per_ml=Decimal("38"),
        sampled_at=now - timedelta(hours=3),
        hours_post_dose=Decimal("2"),
        lab_reference="L1",
    )
    evaluate_subject(subject_id=subject.pk)  # opens the alerts; later rounds re-evaluate

    return Case(
        subject=lambda: evaluate_subject(subject_id=subject.pk),
        baseline=lambda: Subject.objects.get(pk=subject.pk),
        number=10,
    )
