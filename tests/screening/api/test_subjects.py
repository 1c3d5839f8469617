"""The staff subject API: enrolment, visibility by site, withdrawal, regimens, assessments."""

import logging
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from screening.models import Assessment, AuditEvent, Subject
from tests.factories import (
    AssessmentFactory,
    RegimenChangeFactory,
    ScheduleEntryFactory,
    ScheduleFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    staff_client,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def site_a():
    return SiteFactory(code="site-a", timezone="Africa/Johannesburg")


@pytest.fixture
def site_b():
    return SiteFactory(code="site-b", timezone="America/New_York")


@pytest.fixture
def clinician_a(site_a):
    return UserFactory(site=site_a, site__role="clinician")


@pytest.fixture
def client_a(clinician_a):
    return staff_client(clinician_a)


def enrolment(**overrides) -> dict:
    body = {
        "site": "site-a",
        "study_id": "ZA-001",
        "treatment_start": "2025-03-03",
        "timezone": "Africa/Johannesburg",
        "language": "en",
        "sex": "female",
        "year_of_birth": 1990,
        "hiv_positive": True,
        "renal_impairment": False,
        "contact": {"email": "thandi.secret@example.org", "phone": "+27 82 555 0199"},
        "regimen": {
            "drug": "cycloserine",
            "dose_mg_per_day": 750,
            "pyridoxine_mg_per_day": 50,
            "isoniazid": False,
            "ethionamide": True,
            "alcohol_use": False,
        },
    }
    return {**body, **overrides}


@time_machine.travel(NOW, tick=False)
def test_enrol_returns_subject_with_open_baseline(client_a, site_a):
    schedule = ScheduleFactory(site=site_a, is_default=True)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=None, until_day=None)

    response = client_a.post("/api/v1/subjects/", enrolment(), format="json")

    assert response.status_code == 201
    body = response.json()
    subject = Subject.objects.get()
    assert body == {
        "id": str(subject.pk),
        "study_id": "ZA-001",
        "site": "site-a",
        "status": "active",
        "timezone": "Africa/Johannesburg",
        "language": "en",
        "treatment_start": "2025-03-03",
        "schedule": str(schedule.pk),
        "sex": "female",
        "year_of_birth": 1990,
        "hiv_positive": True,
        "renal_impairment": False,
        "has_contact_email": True,
        "has_contact_phone": True,
        "withdrawn_at": None,
        "created_at": "2025-03-03T08:00:00Z",
        "updated_at": "2025-03-03T08:00:00Z",
        "untranslated_instruments": [],
    }
    assessments = client_a.get(f"/api/v1/subjects/{subject.pk}/assessments/").json()["results"]
    assert [(a["instrument"], a["status"], a["opens_at"]) for a in assessments] == [
        ("PHQ-9", "open", "2025-03-03T07:00:00Z")
    ]


def test_enrol_duplicate_study_id_is_409(client_a, site_a):
    assert client_a.post("/api/v1/subjects/", enrolment(), format="json").status_code == 201

    response = client_a.post("/api/v1/subjects/", enrolment(), format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "conflict")


def test_enrol_same_study_id_at_another_site_is_fine(admin_client_api, site_a, site_b):
    assert admin_client_api.post("/api/v1/subjects/", enrolment(), format="json").status_code == 201
    response = admin_client_api.post("/api/v1/subjects/", enrolment(site="site-b"), format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"treatment_start": "2025-02-30"}, "treatment_start"),
        ({"treatment_start": "9999-01-01"}, "treatment_start"),
        ({"study_id": ""}, "study_id"),
        ({"study_id": "a" * 65}, "study_id"),
        ({"study_id": "x\x00y"}, "study_id"),
        ({"site": "site-b"}, "site"),  # exists, but not the clinician's
        ({"site": "nowhere"}, "site"),
        ({"schedule": str(uuid.uuid4())}, "schedule"),
        ({"schedule": "not-a-uuid"}, "schedule"),
        ({"sex": "robot"}, "sex"),
        ({"year_of_birth": 1800}, "year_of_birth"),
        ({"language": "english!"}, "language"),
        ({"contact": {"email": "not-an-email"}}, "contact.email"),
        ({"contact": "x"}, "contact.non_field_errors"),
        ({"regimen": {"drug": "aspirin", "dose_mg_per_day": 1}}, "regimen.drug"),
        ({"regimen": {"drug": "cycloserine", "dose_mg_per_day": -1}}, "regimen.dose_mg_per_day"),
    ],
)
def test_enrol_invalid_input_is_400(client_a, site_a, site_b, overrides, field):
    response = client_a.post("/api/v1/subjects/", enrolment(**overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Subject.objects.count() == 0


def test_enrol_with_schedule_of_another_site_is_400(admin_client_api, site_a, site_b):
    schedule = ScheduleFactory(site=site_b)

    response = admin_client_api.post(
        "/api/v1/subjects/", enrolment(schedule=str(schedule.pk)), format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"schedule": ["Unknown schedule."]}


@pytest.mark.parametrize("body", [[], "x", None, {"site": None}, [{"a": 1}]])
def test_enrol_odd_bodies_are_400(client_a, body):
    response = client_a.post("/api/v1/subjects/", body, format="json")
    assert response.status_code == 400


def subject_b_urls(subject, assessment) -> list[tuple[str, str, dict | None]]:
    base = f"/api/v1/subjects/{subject.pk}"
    return [
        ("get", f"{base}/", None),
        ("patch", f"{base}/", {"language": "af"}),
        ("post", f"{base}/withdraw/", {"reason": "x"}),
        ("get", f"{base}/regimen-changes/", None),
        (
            "post",
            f"{base}/regimen-changes/",
            {
                "effective_from": "2025-03-03T00:00:00Z",
                "drug": "cycloserine",
                "dose_mg_per_day": 500,
            },
        ),
        ("get", f"{base}/assessments/", None),
    ]


def test_clinician_of_site_a_gets_404_for_everything_of_site_b(client_a, site_b):
    subject_b = SubjectFactory(site=site_b)
    assessment_b = AssessmentFactory(subject=subject_b)
    RegimenChangeFactory(subject=subject_b)

    for method, url, body in subject_b_urls(subject_b, assessment_b):
        response = getattr(client_a, method)(url, body, format="json")
        assert (method, url, response.status_code) == (method, url, 404)
        assert response.json()["error"]["code"] == "not_found"

    listed = client_a.get("/api/v1/subjects/").json()["results"]
    assert listed == []
    assert client_a.get("/api/v1/subjects/?site=site-b").json()["results"] == []
    subject_b.refresh_from_db()
    assert (subject_b.status, subject_b.language) == ("active", "en")
    assert subject_b.regimen_changes.count() == 1


def test_clinician_of_site_a_sees_and_changes_subjects_of_site_a(client_a, site_a):
    subject = SubjectFactory(site=site_a)

    for method, url, body in subject_b_urls(subject, None):
        response = getattr(client_a, method)(url, body, format="json")
        assert (method, url, response.status_code) in {
            (method, url, 200),
            (method, url, 201),
        }


def test_admin_sees_every_site(admin_client_api, site_a, site_b):
    SubjectFactory(site=site_a, study_id="A1")
    SubjectFactory(site=site_b, study_id="B1")

    listed = admin_client_api.get("/api/v1/subjects/").json()["results"]
    by_site = admin_client_api.get("/api/v1/subjects/?site=site-b").json()["results"]

    assert sorted(s["study_id"] for s in listed) == ["A1", "B1"]
    assert [s["study_id"] for s in by_site] == ["B1"]


def test_list_filters_by_status(admin_client_api, site_a):
    SubjectFactory(site=site_a, study_id="A1")
    SubjectFactory(site=site_a, study_id="A2", status="withdrawn")

    active = admin_client_api.get("/api/v1/subjects/?status=active").json()["results"]
    bad = admin_client_api.get("/api/v1/subjects/?status=nonsense")

    assert [s["study_id"] for s in active] == ["A1"]
    assert bad.status_code == 400


def test_unauthenticated_is_401(api_client):
    assert api_client.get("/api/v1/subjects/").status_code == 401


@time_machine.travel(NOW, tick=False)
def test_withdraw_then_again_is_409_and_audited(client_a, site_a, clinician_a):
    subject = SubjectFactory(site=site_a)
    url = f"/api/v1/subjects/{subject.pk}/withdraw/"

    first = client_a.post(url, {"reason": "consent withdrawn"}, format="json")
    second = client_a.post(url, {"reason": "again"}, format="json")
    missing = client_a.post(url, {}, format="json")

    assert (first.status_code, first.json()["status"]) == (200, "withdrawn")
    assert second.status_code == 409
    assert missing.status_code == 400
    event = AuditEvent.objects.get(action="withdraw")
    assert (event.actor, event.reason, event.subject) == (clinician_a, "consent withdrawn", subject)


def test_patch_subject_changes_fields_and_rejects_site(client_a, site_a, site_b):
    subject = SubjectFactory(site=site_a, study_id="A1")
    SubjectFactory(site=site_a, study_id="A2")
    url = f"/api/v1/subjects/{subject.pk}/"

    ok = client_a.patch(url, {"language": "af", "contact": {"email": "new@example.org"}})
    site = client_a.patch(url, {"site": "site-b"})
    duplicate = client_a.patch(url, {"study_id": "A2"})
    bad_tz = client_a.patch(url, {"timezone": "Nowhere/Land"})

    assert (ok.status_code, ok.json()["language"], ok.json()["has_contact_email"]) == (
        200,
        "af",
        True,
    )
    assert "contact" not in ok.json()
    assert site.status_code == 400
    assert duplicate.status_code == 409
    assert bad_tz.status_code == 400
    subject.refresh_from_db()
    assert (subject.site, subject.study_id, subject.timezone) == (
        site_a,
        "A1",
        "Africa/Johannesburg",
    )


def test_regimen_change_post_lists_and_queues_evaluation(client_a, site_a):
    subject = SubjectFactory(site=site_a)
    url = f"/api/v1/subjects/{subject.pk}/regimen-changes/"
    body = {
        "effective_from": "2025-04-01T06:00:00+02:00",
        "drug": "terizidone",
        "dose_mg_per_day": 500,
        "pyridoxine_mg_per_day": 100,
        "isoniazid": True,
        "ethionamide": False,
        "alcohol_use": True,
    }

    created = client_a.post(url, body, format="json")
    listed = client_a.get(url).json()["results"]

    assert created.status_code == 201
    assert listed == [created.json()]
    assert {k: created.json()[k] for k in body} == {
        **body,
        "effective_from": "2025-04-01T04:00:00Z",
    }
    assert list(subject.evaluation_requests.values_list("reason", "source_id")) == [
        ("regimen", created.json()["id"])
    ]
    assert AuditEvent.objects.filter(object_type="screening.RegimenChange").count() == 1


@time_machine.travel(NOW, tick=False)
def test_contact_details_never_in_clear_in_the_database_or_logs(client_a, site_a, caplog):
    caplog.set_level(logging.DEBUG)
    schedule = ScheduleFactory(site=site_a, is_default=True)
    ScheduleEntryFactory(schedule=schedule)

    created = client_a.post("/api/v1/subjects/", enrolment(), format="json")
    subject_id = created.json()["id"]
    client_a.patch(
        f"/api/v1/subjects/{subject_id}/",
        {"contact": {"email": "second.secret@example.org", "phone": "+27 82 555 0177"}},
        format="json",
    )
    detail = client_a.get(f"/api/v1/subjects/{subject_id}/")

    with connection.cursor() as cursor:
        cursor.execute("SELECT s::text FROM screening_subject s")
        subject_rows = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT a::text FROM screening_auditevent a")
        audit_rows = " ".join(row[0] for row in cursor.fetchall())
    secrets = [
        "thandi.secret@example.org",
        "+27 82 555 0199",
        "second.secret@example.org",
        "+27 82 555 0177",
        "thandi.secret",
        "555 0199",
    ]
    haystacks = {
        "subject table": subject_rows,
        "audit table": audit_rows,
        "logs": caplog.text + " ".join(str(r.__dict__) for r in caplog.records),
        "responses": created.content.decode() + detail.content.decode(),
    }
    assert "ZA-001" in subject_rows  # the dump is real
    assert {
        (name, secret) for name, text in haystacks.items() for secret in secrets if secret in text
    } == set()
    subject = Subject.objects.get(pk=subject_id)
    assert (subject.contact_email, subject.contact_phone) == (
        "second.secret@example.org",
        "+27 82 555 0177",
    )


def test_assessments_list_filters_status(client_a, site_a):
    subject = SubjectFactory(site=site_a)
    entry = ScheduleEntryFactory(schedule__site=site_a)
    AssessmentFactory(subject=subject, schedule_entry=entry, occurrence=0, status="open")
    AssessmentFactory(subject=subject, schedule_entry=entry, occurrence=1, status="missed")

    response = client_a.get(f"/api/v1/subjects/{subject.pk}/assessments/?status=missed")

    assert [(a["occurrence"], a["status"], a["response"]) for a in response.json()["results"]] == [
        (1, "missed", None)
    ]


def make_subjects(site, n):
    for _ in range(n):
        subject = SubjectFactory(site=site)
        RegimenChangeFactory(subject=subject)


@pytest.mark.parametrize("rows", [1, 10])
def test_subject_list_query_count_is_constant(client_a, site_a, rows, django_assert_num_queries):
    make_subjects(site_a, rows)

    # auth token lookup + last_used update + page of subjects (site joined)
    with django_assert_num_queries(3):
        response = client_a.get("/api/v1/subjects/")

    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [1, 10])
def test_assessment_list_query_count_is_constant(client_a, site_a, rows, django_assert_num_queries):
    subject = SubjectFactory(site=site_a)
    entry = ScheduleEntryFactory(schedule__site=site_a)
    for n in range(rows):
        AssessmentFactory(subject=subject, schedule_entry=entry, occurrence=n)

    # token + last_used + subject + page of assessments (responses joined)
    with django_assert_num_queries(4):
        response = client_a.get(f"/api/v1/subjects/{subject.pk}/assessments/")

    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [1, 10])
def test_regimen_list_query_count_is_constant(client_a, site_a, rows, django_assert_num_queries):
    subject = SubjectFactory(site=site_a)
    for _ in range(rows):
        RegimenChangeFactory(subject=subject)

    with django_assert_num_queries(4):
        response = client_a.get(f"/api/v1/subjects/{subject.pk}/regimen-changes/")

    assert len(response.json()["results"]) == rows


def test_unknown_subject_is_404(client_a):
    assert client_a.get(f"/api/v1/subjects/{uuid.uuid4()}/").status_code == 404
    assert client_a.get("/api/v1/subjects/not-a-uuid/").status_code == 404


def test_assessment_model_is_unique_per_occurrence(site_a):
    subject = SubjectFactory(site=site_a)
    entry = ScheduleEntryFactory(schedule__site=site_a)
    AssessmentFactory(subject=subject, schedule_entry=entry, occurrence=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        AssessmentFactory(subject=subject, schedule_entry=entry, occurrence=0)
    assert Assessment.objects.count() == 1


def test_unused_user_factory_is_plain_staff():
    user = UserFactory()
    assert (user.is_staff, user.check_password("staff-pass-123")) == (False, True)
