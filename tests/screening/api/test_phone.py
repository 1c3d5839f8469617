"""The subject's phone API: me, open assessments, exactly-once submission, logout."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from screening.models import (
    AccessToken,
    Assessment,
    AuditEvent,
    EvaluationRequest,
    Response,
    Subject,
)
from tests.config.test_schema import CONTRACT
from tests.factories import (
    GAD7_ZERO,
    NEURO_ZERO,
    PHQ9_ZERO,
    AssessmentFactory,
    SiteFactory,
    SubjectFactory,
    phq9_answers,
    subject_client,
)


def submit(client, assessment, body, key="key-1"):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(
        f"/api/v1/me/assessments/{assessment.pk}/response/", body, format="json", **headers
    )


@pytest.mark.django_db
def test_me_returns_the_subject_and_site():
    site = SiteFactory(code="ct-01")
    subject = SubjectFactory(
        site=site, study_id="S-7", language="xh", timezone="Africa/Johannesburg"
    )
    client, _ = subject_client(subject)

    response = client.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(subject.pk),
        "study_id": "S-7",
        "language": "xh",
        "timezone": "Africa/Johannesburg",
        "site": {"code": "ct-01", "name": site.name},
    }


@pytest.mark.django_db
def test_me_without_a_token_is_401_and_with_a_staff_token_403(admin_client_api):
    assert APIClient().get("/api/v1/me/").status_code == 401
    assert admin_client_api.get("/api/v1/me/").status_code == 403


@pytest.mark.django_db
def test_open_assessments_lists_only_answerable_ones_with_the_instrument():
    subject = SubjectFactory()
    now = timezone.now()
    open_one = AssessmentFactory(
        subject=subject, instrument="GAD-7", opens_at=now - timedelta(hours=2)
    )
    lagging = AssessmentFactory(
        subject=subject,
        instrument="PHQ-9",
        opens_at=now - timedelta(hours=1),
        status=Assessment.Status.SCHEDULED,
    )
    AssessmentFactory(subject=subject, opens_at=now + timedelta(hours=1), status="scheduled")
    AssessmentFactory(
        subject=subject, opens_at=now - timedelta(hours=80), status="open"
    )  # window over
    AssessmentFactory(subject=subject, status="completed")
    AssessmentFactory(subject=subject, status="cancelled")
    AssessmentFactory(subject=SubjectFactory(), instrument="PHQ-9")  # someone else's
    client, _ = subject_client(subject)

    response = client.get("/api/v1/me/assessments/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [
        (str(open_one.pk), "open"),
        (str(lagging.pk), "scheduled"),
    ]
    instrument = results[0]["instrument"]
    assert (instrument["code"], instrument["version"], instrument["language"]) == ("GAD-7", 1, "en")
    assert [item["code"] for item in instrument["items"]] == [*GAD7_ZERO, "gad7_difficulty"]
    assert instrument["items"][0]["options"][0] == {"value": 0, "label": "Not at all"}


@pytest.mark.django_db
def test_open_assessments_query_count_is_constant(django_assert_num_queries):
    subject = SubjectFactory()
    client, _ = subject_client(subject)
    AssessmentFactory(subject=subject, instrument="PHQ-9")
    # token+subject+site, last_used_at update, page, instrument versions
    with django_assert_num_queries(4):
        assert len(client.get("/api/v1/me/assessments/").json()["results"]) == 1
    for code in ["PHQ-9", "GAD-7", "NEURO-SX"] * 4:
        AssessmentFactory(subject=subject, instrument=code)
    with django_assert_num_queries(4):
        assert len(client.get("/api/v1/me/assessments/").json()["results"]) == 13


@pytest.mark.django_db
def test_submission_is_stored_scored_audited_and_queues_an_evaluation():
    subject = SubjectFactory()
    assessment = AssessmentFactory(
        subject=subject,
        instrument="PHQ-9",
        opens_at=datetime(2025, 3, 1, 6, 0, tzinfo=UTC),
        closes_at=datetime(2025, 3, 4, 6, 0, tzinfo=UTC),
    )
    client, _ = subject_client(subject)
    answers = {**PHQ9_ZERO, "phq9_1": 3, "phq9_2": 2, "phq9_10": 1}
    body = {
        "answers": answers,
        "started_at": "2025-03-01T09:00:00+02:00",
        "completed_at": "2025-03-01T09:04:00+02:00",
    }

    with time_machine.travel(datetime(2025, 3, 1, 7, 5, tzinfo=UTC)):
        response = submit(client, assessment, body)

    assert response.status_code == 201
    stored = Response.objects.get()
    assert response.json() == {"id": str(stored.pk), "status": "completed"}
    assert stored.assessment_id == assessment.pk
    assert stored.answers == answers
    assert (stored.instrument_code, stored.instrument_version.version, stored.source) == (
        "PHQ-9",
        1,
        "phone",
    )
    assert stored.score == {
        "total": 5,
        "band": "mild",
        "flags": [],
        "prorated": False,
        "valid": True,
        "grade": None,
        "case": None,
        "invalid_reason": None,
    }
    assert stored.started_at.isoformat() == "2025-03-01T07:00:00+00:00"
    assert stored.completed_at.isoformat() == "2025-03-01T07:04:00+00:00"
    assert stored.received_at is not None
    assessment.refresh_from_db()
    assert assessment.status == "completed"
    event = AuditEvent.objects.get(object_id=str(stored.pk))
    assert (event.action, event.actor_subject_id, event.subject_id) == (
        "create",
        subject.pk,
        subject.pk,
    )
    assert list(EvaluationRequest.objects.values_list("subject", "reason", "source_id")) == [
        (subject.pk, "response", str(stored.pk))
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("item9, shown", [(0, False), (1, True), (3, True)])
def test_phq9_item9_returns_the_site_support_message(item9, shown):
    subject = SubjectFactory(site=SiteFactory(crisis_message="Call Lifeline 0861 322 322"))
    client, _ = subject_client(subject)

    response = submit(
        client, AssessmentFactory(subject=subject), {"answers": {**PHQ9_ZERO, "phq9_9": item9}}
    )

    expected = {"id": str(Response.objects.get().pk), "status": "completed"}
    if shown:
        expected["support_message"] = "Call Lifeline 0861 322 322"
    assert (response.status_code, response.json()) == (201, expected)


@pytest.mark.django_db
def test_support_message_falls_back_when_the_site_has_none(settings):
    settings.DEFAULT_CRISIS_MESSAGE = "Call your clinic."
    subject = SubjectFactory(site=SiteFactory(crisis_message=""))
    client, _ = subject_client(subject)

    response = submit(
        client, AssessmentFactory(subject=subject), {"answers": {**PHQ9_ZERO, "phq9_9": 2}}
    )

    assert response.json()["support_message"] == "Call your clinic."


@pytest.mark.django_db
def test_retry_with_same_key_and_body_replays_the_same_status_and_bytes():
    subject = SubjectFactory(site=SiteFactory(crisis_message="Help: 112"))
    assessment = AssessmentFactory(subject=subject)
    client, _ = subject_client(subject)
    body = {"answers": {**PHQ9_ZERO, "phq9_9": 1}}
    first = submit(client, assessment, body)
    subject.site.crisis_message = "changed later"
    subject.site.save(update_fields=["crisis_message"])

    reordered = {"answers": dict(reversed(list(body["answers"].items())))}  # same JSON value

    again = submit(client, assessment, reordered)

    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert first.status_code == 201
    assert Response.objects.count() == 1
    assert EvaluationRequest.objects.count() == 1


@pytest.mark.django_db
def test_same_key_with_another_body_is_422():
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject)
    client, _ = subject_client(subject)
    submit(client, assessment, {"answers": PHQ9_ZERO})

    response = submit(client, assessment, {"answers": {**PHQ9_ZERO, "phq9_1": 1}})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.django_db
def test_same_key_on_another_assessment_is_422():
    subject = SubjectFactory()
    client, _ = subject_client(subject)
    submit(client, AssessmentFactory(subject=subject), {"answers": PHQ9_ZERO})

    response = submit(client, AssessmentFactory(subject=subject), {"answers": PHQ9_ZERO})

    assert (response.status_code, response.json()["error"]["code"]) == (
        422,
        "idempotency_key_reused",
    )


@pytest.mark.django_db
def test_second_submission_with_another_key_is_409():
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject)
    client, _ = subject_client(subject)
    submit(client, assessment, {"answers": PHQ9_ZERO}, key="first")

    response = submit(client, assessment, {"answers": PHQ9_ZERO}, key="second")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "already_answered")
    assert Response.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "opens_in_hours, status, code",
    [
        (-73, "open", "window_closed"),  # past closes_at, sweep not run yet
        (-80, "missed", "window_closed"),
        (2, "scheduled", "not_open"),
        (-1, "cancelled", "cancelled"),
    ],
)
def test_unanswerable_assessment_is_409(opens_in_hours, status, code):
    subject = SubjectFactory()
    assessment = AssessmentFactory(
        subject=subject, opens_at=timezone.now() + timedelta(hours=opens_in_hours), status=status
    )
    client, _ = subject_client(subject)

    response = submit(client, assessment, {"answers": PHQ9_ZERO})

    assert (response.status_code, response.json()["error"]["code"]) == (409, code)
    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_window_closes_exactly_at_closes_at():
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject)
    client, _ = subject_client(subject)

    with time_machine.travel(assessment.closes_at, tick=False):
        response = submit(client, assessment, {"answers": PHQ9_ZERO})

    assert (response.status_code, response.json()["error"]["code"]) == (409, "window_closed")


@pytest.mark.django_db
def test_each_bad_item_is_listed_in_a_400():
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject)
    client, _ = subject_client(subject)
    answers = {**PHQ9_ZERO, "phq9_1": 4, "phq9_2": "1", "phq9_4": True, "extra": 1}
    del answers["phq9_9"]

    response = submit(client, assessment, {"answers": answers})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "answers.phq9_1": ["Not one of the options: 0, 1, 2, 3."],
        "answers.phq9_2": ["Expected a whole number."],
        "answers.phq9_4": ["Expected a whole number."],
        "answers.extra": ["Unknown item."],
        "answers.phq9_9": ["This item is required."],
    }
    assert Response.objects.count() == 0
    assessment.refresh_from_db()
    assert assessment.status == "open"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answers",
    [
        [],
        [0, 1, 2],
        "phq9_1=0",
        None,
        10**200,
        -(10**30),
        1.5e308,
        True,
        {"phq9_1": {"nested": [1, {"a": None}]}},
        {"phq9_1": [0]},
        {"phq9_1": 10**100},
        {"phq9_1": 0.0},
        {"phq9_1": "\u0000"},
        {"": 0},
        {"phq9_1": "x" * 100_000},
    ],
)
def test_odd_answers_are_400_never_500(answers):
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject)
    client, _ = subject_client(subject)

    response = submit(client, assessment, {"answers": answers})

    assert response.status_code == 400
    assert response.json()["error"]["fields"]
    assert Response.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'"answers"',
        b"null",
        b"42",
        b'{"answers": NaN}',
        b'{"answers": {"phq9_1": 1e999}}',
        b'{"answers": {"phq9_1": ' + b"9" * 5000 + b"}}",
        b'{"answers": {}, "started_at": "yesterday"}',
        b'{"answers": {}, "completed_at": 12}',
        b"[" * 50_000 + b"]" * 50_000,
        b"\xff\xfe",
        b'{"answers": {"\\ud800": 1}}',
        b'{"answers": {"phq9_1": "\\udfff"}}',
        b'{"answers": {"\\u0000": "\\u0000"}}',
    ],
)
def test_odd_bodies_are_400_never_500(raw):
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject)
    client, _ = subject_client(subject)

    response = client.generic(
        "POST",
        f"/api/v1/me/assessments/{assessment.pk}/response/",
        raw,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "", "x" * 129, "has space", "caf\u00e9"])
def test_missing_or_bad_idempotency_key_is_400(key):
    subject = SubjectFactory()
    client, _ = subject_client(subject)
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}

    response = client.post(
        f"/api/v1/me/assessments/{AssessmentFactory(subject=subject).pk}/response/",
        {"answers": PHQ9_ZERO},
        format="json",
        **headers,
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["Idempotency-Key"]


@pytest.mark.django_db
def test_completed_at_in_the_future_is_400():
    subject = SubjectFactory()
    client, _ = subject_client(subject)
    future = (timezone.now() + timedelta(hours=1)).isoformat()

    response = submit(
        client, AssessmentFactory(subject=subject), {"answers": PHQ9_ZERO, "completed_at": future}
    )

    assert response.json()["error"]["fields"] == {"completed_at": ["Cannot be in the future."]}


@pytest.mark.django_db
def test_neuro_sx_submission_scores_the_grade():
    subject = SubjectFactory()
    client, _ = subject_client(subject)

    response = submit(
        client,
        AssessmentFactory(subject=subject, instrument="NEURO-SX"),
        {"answers": {**NEURO_ZERO, "l_numbness": 5}},
    )

    assert response.status_code == 201
    assert Response.objects.get().score["grade"] == 2


@pytest.mark.django_db
def test_subject_token_gets_404_for_another_subjects_assessment():
    subject = SubjectFactory()
    others = AssessmentFactory(subject=SubjectFactory(site=subject.site))
    client, _ = subject_client(subject)

    response = submit(client, others, {"answers": PHQ9_ZERO})

    assert response.status_code == 404
    assert Response.objects.count() == 0


STAFF_OPERATIONS = [
    (method, path)
    for path, methods in CONTRACT.items()
    for method in methods
    if not path.startswith(("/api/v1/me/", "/api/v1/subject-auth/", "/api/v1/auth/token/"))
    and not path.startswith("/api/v1/instruments/")  # instruments are for phones too
]


@pytest.mark.django_db
@pytest.mark.parametrize("method, path", STAFF_OPERATIONS)
def test_subject_token_cannot_use_staff_endpoints(method, path):
    subject = SubjectFactory()
    client, _ = subject_client(subject)
    url = re.sub(r"\{(id|subject_id)\}", str(subject.pk), path)
    url = url.replace("{code}", subject.site.code)
    url = re.sub(r"\{\w+\}", "00000000-0000-4000-8000-000000000000", url)

    response = getattr(client, method)(url, {}, format="json")

    if path.startswith("/api/v1/fhir/"):  # FHIR endpoints answer errors as an OperationOutcome
        body = response.json()
        assert (response.status_code, body["resourceType"], body["issue"][0]["code"]) == (
            403,
            "OperationOutcome",
            "forbidden",
        )
        return
    assert (response.status_code, response.json()["error"]["code"]) == (403, "permission_denied")


@pytest.mark.django_db
def test_logout_revokes_the_token():
    subject = SubjectFactory()
    client, _ = subject_client(subject)

    assert client.post("/api/v1/me/logout/").status_code == 204

    assert client.get("/api/v1/me/").status_code == 401
    assert AccessToken.objects.get().revoked_at is not None


@pytest.mark.django_db
def test_withdrawn_subjects_token_fails():
    subject = SubjectFactory()
    client, _ = subject_client(subject)
    Subject.objects.filter(pk=subject.pk).update(status=Subject.Status.WITHDRAWN)

    assert client.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_reply_body_is_the_stored_json():
    subject = SubjectFactory()
    client, _ = subject_client(subject)

    response = submit(client, AssessmentFactory(subject=subject), {"answers": PHQ9_ZERO})

    assert json.loads(Response.objects.get().reply_body) == response.json()


# --- device times (issue 9): between the assessment's opening and its receipt, 5 minutes' skew ---


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "offset", "status"),
    [
        ("completed_at", -timedelta(minutes=4), 201),  # inside the clock-skew allowance
        ("completed_at", -timedelta(minutes=6), 400),
        ("completed_at", -timedelta(days=21), 400),  # "completed three weeks ago"
        ("started_at", -timedelta(minutes=4), 201),
        ("started_at", -timedelta(minutes=6), 400),
    ],
)
def test_device_times_before_the_assessment_opened_are_refused_per_field(field, offset, status):
    subject = SubjectFactory()
    opens_at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    assessment = AssessmentFactory(subject=subject, instrument="PHQ-9", opens_at=opens_at)
    client, _ = subject_client(subject)
    body = {"answers": phq9_answers(4, item9=3), field: (opens_at + offset).isoformat()}
    if field == "started_at":
        body["completed_at"] = timezone.now().isoformat()

    response = submit(client, assessment, body)

    assert response.status_code == status
    if status == 400:
        error = response.json()["error"]
        assert list(error["fields"]) == [field]
        assert "before the assessment opened" in error["fields"][field][0]
        assert not Response.objects.exists()
        assessment.refresh_from_db()
        assert assessment.status == "open"  # still answerable with a true time
