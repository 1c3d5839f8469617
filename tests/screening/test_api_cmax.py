"""Tests for screening/api/cmax.py: POST/GET /api/v1/subjects/{id}/cmax-results/."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.models import Alert
from notifications.tasks import sweep_evaluations
from screening.models import AuditEvent, CmaxResult, EvaluationRequest
from screening.services import cmax_results
from tests.conftest import celery_broker_at
from tests.factories import (
    CmaxResultFactory,
    ResponseFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
    staff_client,
)
from tests.support import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def subject():
    return SubjectFactory()


@pytest.fixture
def clinician(subject):
    return UserFactory(site=subject.site)


@pytest.fixture
def client(clinician):
    return staff_client(clinician)


def url(subject) -> str:
    return f"/api/v1/subjects/{subject.pk}/cmax-results/"


def body(**changes) -> dict:
    sampled_at = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    return {
        "value": "38",
        "unit": "ug/mL",
        "sampled_at": sampled_at.isoformat(),
        "hours_post_dose": "2",
        "dose_mg": 750,
        "lab_reference": "LAB-0001",
        **changes,
    }


def test_post_cmax_result_stores_it_in_ug_per_ml_audits_and_requests_evaluation(
    client, subject, clinician
):
    sent = body()

    response = client.post(url(subject), sent, format="json")

    assert response.status_code == 201
    result = CmaxResult.objects.get()
    assert response.json() == {
        "id": str(result.pk),
        "subject": str(subject.pk),
        "value": "38.000",
        "unit": "ug/mL",
        "value_ug_per_ml": "38.000",
        "sampled_at": sent["sampled_at"].replace("+00:00", "Z"),
        "hours_post_dose": "2.00",
        "dose_mg": 750,
        "lab_reference": "LAB-0001",
        "entered_by": str(clinician.staff_profile.public_id),
        "created_at": response.json()["created_at"],
        "occasion": {
            "dose_at": (result.sampled_at - timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
            "cmax_ug_per_ml": "38.000",
            "cmax_result": str(result.pk),
            "samples": [str(result.pk)],
        },
        "is_peak": True,
        "not_peak_reason": None,
        "voided_at": None,
        "voided_by": None,
        "void_reason": "",
        "corrects": None,
    }
    audit = AuditEvent.objects.get(object_id=str(result.pk))
    assert (audit.action, audit.actor, audit.subject) == ("create", clinician, subject)
    request = EvaluationRequest.objects.get()
    assert (request.subject, request.reason, request.source_id, request.processed_at) == (
        subject,
        "cmax",
        str(result.pk),
        None,
    )


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("38", "mg/L", Decimal("38.000")),
        ("343", "umol/L", Decimal("35.017")),  # 343 x 102.09 / 1000 = 35.01687
        ("30.5", "ug/mL", Decimal("30.500")),
    ],
)
def test_post_cmax_result_converts_the_unit(client, subject, value, unit, expected):
    response = client.post(url(subject), body(value=value, unit=unit), format="json")

    assert response.status_code == 201
    assert CmaxResult.objects.get().value_ug_per_ml == expected


def test_post_the_same_lab_reference_and_content_again_returns_the_stored_result(client, subject):
    data = body()  # once: two calls a second apart would differ in sampled_at
    first = client.post(url(subject), data, format="json")

    again = client.post(url(subject), data, format="json")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert CmaxResult.objects.count() == 1
    assert EvaluationRequest.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="screening.CmaxResult").count() == 1


def test_post_the_same_lab_reference_with_other_content_is_a_conflict(client, subject):
    data = body()
    first = client.post(url(subject), data, format="json")

    response = client.post(url(subject), {**data, "value": "39"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "lab_reference_conflict",
            "message": "This lab reference is already recorded for the subject with a different "
            f"value; correct it with POST .../cmax-results/{first.json()['id']}/correct/ "
            "(a reason is required).",
            "fields": {"lab_reference": [f"Recorded as result {first.json()['id']}."]},
        }
    }
    assert CmaxResult.objects.get().value == Decimal("38")


def test_a_concurrent_duplicate_is_answered_from_the_row_that_won(subject, clinician):
    existing = CmaxResultFactory(subject=subject, value="38", lab_reference="LAB-RACE")
    # The other transaction commits between our look-up and our insert.
    data = {
        "value": existing.value,
        "unit": existing.unit,
        "sampled_at": existing.sampled_at,
        "hours_post_dose": existing.hours_post_dose,
        "dose_mg": existing.dose_mg,
    }
    original_filter = CmaxResult.objects.filter
    calls = []

    def lookup_missing_once(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            return CmaxResult.objects.none()
        return original_filter(*args, **kwargs)

    CmaxResult.objects.filter = lookup_missing_once
    try:
        result, created = cmax_results.record_cmax_result(
            subject=subject, lab_reference="LAB-RACE", entered_by=clinician, **data
        )
    finally:
        del CmaxResult.objects.filter

    assert (result, created) == (existing, False)
    assert CmaxResult.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": "0"}, "value"),
        ({"value": "-1"}, "value"),
        ({"value": "500.001"}, "value"),
        ({"value": "5000", "unit": "umol/L"}, "value"),  # 510.45 ug/mL
        ({"hours_post_dose": "0"}, "hours_post_dose"),
        ({"hours_post_dose": "24.01"}, "hours_post_dose"),
        ({"hours_post_dose": "-2"}, "hours_post_dose"),
        ({"dose_mg": 0}, "dose_mg"),
        ({"dose_mg": 3001}, "dose_mg"),
        ({"sampled_at": "2999-01-01T00:00:00Z"}, "sampled_at"),
        ({"sampled_at": "2000-01-01T00:00:00Z"}, "sampled_at"),  # before treatment
        ({"sampled_at": "2025-01-01T08:00:00"}, "sampled_at"),  # no offset
    ],
)
def test_post_an_implausible_cmax_result_is_a_400_naming_the_field(client, subject, changes, field):
    response = client.post(url(subject), body(**changes), format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], list(error["fields"])) == ("invalid", [field])
    assert CmaxResult.objects.count() == 0
    assert EvaluationRequest.objects.count() == 0


def test_post_a_sample_within_the_clock_skew_is_accepted(client, subject):
    soon = (timezone.now() + timedelta(minutes=4)).isoformat()

    response = client.post(url(subject), body(sampled_at=soon), format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    "payload",
    [
        {},
        [],
        "text",
        {"value": "NaN"},
        {"value": "Infinity"},
        {"value": "1e999"},
        {"value": True},
        {"value": {"a": 1}},
        {"value": "38.1234"},
        {"unit": "mmol/L"},
        {"unit": None},
        {"sampled_at": "yesterday"},
        {"sampled_at": "9999-12-31T23:59:59-12:00"},
        {"sampled_at": 12},
        {"hours_post_dose": "1e3"},
        {"dose_mg": "many"},
        {"dose_mg": 10**30},
        {"lab_reference": ""},
        {"lab_reference": "   "},
        {"lab_reference": "x" * 129},
        {"lab_reference": "LAB\x00"},
        {"lab_reference": ["LAB"]},
    ],
)
def test_post_odd_content_is_a_400_never_a_500(client, subject, payload):
    data = {**body(), **payload} if isinstance(payload, dict) and payload else payload

    response = client.post(url(subject), data, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_other_sites_subjects_are_404_and_admins_see_all(client, admin_client_api):
    elsewhere = SubjectFactory()

    assert client.post(url(elsewhere), body(), format="json").status_code == 404
    assert client.get(url(elsewhere)).status_code == 404
    assert admin_client_api.get(url(elsewhere)).status_code == 200
    assert admin_client_api.post(url(elsewhere), body(), format="json").status_code == 201


def test_an_unknown_subject_is_404_and_no_token_is_401(client, api_client, subject):
    unknown = "/api/v1/subjects/00000000-0000-0000-0000-000000000000/cmax-results/"

    assert client.get(unknown).status_code == 404
    assert api_client.get(url(subject)).status_code == 401


def test_list_groups_the_2h_and_6h_samples_of_one_occasion(client, subject):
    dose_at = timezone.now() - timedelta(days=1)
    two = CmaxResultFactory(
        subject=subject, value="30", sampled_at=dose_at + timedelta(hours=2), hours_post_dose="2"
    )
    six = CmaxResultFactory(
        subject=subject, value="38", sampled_at=dose_at + timedelta(hours=6), hours_post_dose="6"
    )

    response = client.get(url(subject))

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [str(six.pk), str(two.pk)]  # latest sample first
    assert [r["occasion"]["cmax_ug_per_ml"] for r in results] == ["38.000", "38.000"]
    assert [r["occasion"]["samples"] for r in results] == [[str(two.pk), str(six.pk)]] * 2


@pytest.mark.parametrize("rows", [1, 8])
def test_list_query_count_stays_constant(client, subject, rows, django_assert_num_queries):
    for number in range(rows):
        CmaxResultFactory(
            subject=subject, value="30", sampled_at=timezone.now() - timedelta(days=number, hours=3)
        )

    # token, token last use, subject, page, regimen drug, profile, samples for the occasions
    with django_assert_num_queries(7):
        response = client.get(url(subject))

    assert len(response.json()["results"]) == rows


# --- the broker is down: the request is kept, the sweep does it -------------------------------


@pytest.fixture
def broker_down():
    """Point Celery (settings and the live app) at a port where nothing listens, then restore."""
    down = f"redis://127.0.0.1:{free_port()}/0"
    with celery_broker_at(down):
        yield down


def test_post_with_the_broker_down_still_answers_201_and_the_sweep_evaluates_later(
    client, subject, broker_down, django_capture_on_commit_callbacks, caplog
):
    ResponseFactory(subject=subject, answers=phq9_answers(12))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url(subject), body(), format="json")

    assert response.status_code == 201
    assert len(callbacks) == 1  # the send was attempted after commit, and failed quietly
    assert [r.getMessage() for r in caplog.records if r.name == "config.tasks"] == [
        "task not sent; the sweep will retry"
    ]
    pending = EvaluationRequest.objects.get(processed_at__isnull=True)
    assert Alert.objects.count() == 0

    # A minute later the beat sweep finds the request still pending.
    EvaluationRequest.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - timedelta(minutes=1)
    )
    assert sweep_evaluations() == 1

    pending.refresh_from_db()
    assert (pending.processed_at is not None, pending.attempts) == (True, 1)
    assert list(Alert.objects.values_list("category", "rules")) == [("dose_review", ["R1"])]
