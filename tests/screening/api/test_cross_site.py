"""Site isolation over every staff endpoint that takes a subject or alert id (docs/api.md).

A clinician of site A asking about an object of site B, by any method, gets exactly the answer
an id that exists nowhere gets (404, or 405 for a method the path does not have): never 403,
never data, never a change. A subject's phone token reaches no staff endpoint, and a staff token
reaches no `/me/` endpoint.
"""

import uuid

import pytest

from screening.models import (
    AccessToken,
    ActivationCode,
    AuditEvent,
    CmaxResult,
    EvaluationRequest,
    RegimenChange,
    Response,
)
from tests.factories import (
    PHQ9_ZERO,
    AlertFactory,
    AssessmentFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    staff_client,
    subject_client,
)

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]
# Path templates with an id of site B, and a body that would be valid for a write.
SUBJECT_PATHS = {
    "/api/v1/subjects/{id}/": {"language": "af"},
    "/api/v1/subjects/{id}/withdraw/": {"reason": "moved away"},
    "/api/v1/subjects/{id}/regimen-changes/": {
        "effective_from": "2025-03-03T00:00:00Z",
        "drug": "cycloserine",
        "dose_mg_per_day": 500,
    },
    "/api/v1/subjects/{id}/assessments/": {},
    "/api/v1/subjects/{id}/activation-code/": {},
    "/api/v1/subjects/{id}/revoke-tokens/": {},
    "/api/v1/subjects/{id}/responses/": {
        "instrument": "PHQ-9",
        "answers": PHQ9_ZERO,
        "completed_at": "2025-03-03T08:00:00Z",
        "source": "paper",
    },
    "/api/v1/subjects/{id}/cmax-results/": {
        "value": "30",
        "unit": "ug/mL",
        "sampled_at": "2025-03-03T08:00:00Z",
        "hours_post_dose": "2",
        "lab_reference": "LAB-1",
    },
}
ALERT_PATHS = {
    "/api/v1/alerts/{id}/": {},
    "/api/v1/alerts/{id}/acknowledge/": {},
    "/api/v1/alerts/{id}/resolve/": {"action_taken": "no_change", "note": "seen"},
}


@pytest.fixture
def site_b_objects():
    site_b = SiteFactory(code="site-b")
    subject = SubjectFactory(site=site_b, with_regimen=True)
    assessment = AssessmentFactory(subject=subject)
    alert = AlertFactory(subject=subject)
    return subject, assessment, alert


def snapshot(subject, alert) -> dict:
    subject.refresh_from_db()
    alert.refresh_from_db()
    return {
        "subject": (subject.status, subject.language, subject.study_id),
        "alert": (alert.status, alert.acknowledged_at, alert.resolved_at),
        "regimens": RegimenChange.objects.filter(subject=subject).count(),
        "responses": Response.objects.filter(subject=subject).count(),
        "cmax": CmaxResult.objects.filter(subject=subject).count(),
        "codes": ActivationCode.objects.filter(subject=subject).count(),
        "tokens": AccessToken.objects.filter(subject=subject, revoked_at=None).count(),
        "evaluations": EvaluationRequest.objects.filter(subject=subject).count(),
        "audit": AuditEvent.objects.count(),
    }


def answer(client, method, url, body):
    response = getattr(client, method)(url, body, format="json")
    return response.status_code, response.json()


def test_a_clinician_of_site_a_gets_for_site_b_ids_what_an_unknown_id_gets(site_b_objects):
    subject, _, alert = site_b_objects
    site_a = SiteFactory(code="site-a")
    client_a = staff_client(UserFactory(site=site_a))
    SubjectFactory(site=site_a)  # site A has data of its own
    before = snapshot(subject, alert)
    targets = [(path, body, subject.pk) for path, body in SUBJECT_PATHS.items()]
    targets += [(path, body, alert.pk) for path, body in ALERT_PATHS.items()]

    outcomes = []
    for path, body, object_id in targets:
        for method in METHODS:
            got = answer(client_a, method, path.format(id=object_id), body)
            unknown = answer(client_a, method, path.format(id=uuid.uuid4()), body)
            outcomes.append((method, path, got[0], got == unknown))

    assert [o for o in outcomes if o[2] not in (404, 405) or not o[3]] == []
    assert {(o[0], o[1]) for o in outcomes if o[2] == 404} >= {
        (method, path) for path in [*SUBJECT_PATHS, *ALERT_PATHS] for method in ["get", "post"]
    } - {
        ("post", "/api/v1/alerts/{id}/"),
        ("post", "/api/v1/subjects/{id}/"),
        ("post", "/api/v1/subjects/{id}/assessments/"),
        ("get", "/api/v1/subjects/{id}/withdraw/"),
        ("get", "/api/v1/subjects/{id}/activation-code/"),
        ("get", "/api/v1/subjects/{id}/revoke-tokens/"),
        ("get", "/api/v1/alerts/{id}/acknowledge/"),
        ("get", "/api/v1/alerts/{id}/resolve/"),
    }
    assert snapshot(subject, alert) == before


def test_lists_of_a_clinician_of_site_a_never_show_site_b(site_b_objects):
    subject, _, alert = site_b_objects
    client_a = staff_client(UserFactory(site=SiteFactory(code="site-a")))

    for url in [
        "/api/v1/subjects/",
        "/api/v1/subjects/?site=site-b",
        f"/api/v1/alerts/?subject={subject.pk}",
        "/api/v1/alerts/?site=site-b",
    ]:
        response = client_a.get(url)
        assert (url, response.status_code, response.json()["results"]) == (url, 200, [])
    sites = [site["code"] for site in client_a.get("/api/v1/sites/").json()["results"]]
    assert sites == ["site-a"]


def test_a_subject_token_of_site_a_cannot_answer_an_assessment_of_site_b(site_b_objects):
    _, assessment_b, _ = site_b_objects
    phone_a, _ = subject_client(SubjectFactory(site=SiteFactory(code="site-a")))

    response = phone_a.post(
        f"/api/v1/me/assessments/{assessment_b.pk}/response/",
        {"answers": PHQ9_ZERO},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert Response.objects.count() == 0


STAFF_READS = [
    "/api/v1/subjects/",
    "/api/v1/subjects/{subject}/",
    "/api/v1/subjects/{subject}/assessments/",
    "/api/v1/subjects/{subject}/regimen-changes/",
    "/api/v1/subjects/{subject}/responses/",
    "/api/v1/subjects/{subject}/cmax-results/",
    "/api/v1/alerts/",
    "/api/v1/alerts/{alert}/",
    "/api/v1/sites/",
    "/api/v1/schedules/",
    "/api/v1/monitoring-profiles/",
]


def test_a_subject_token_reaches_no_staff_endpoint_even_for_its_own_data(site_b_objects):
    subject, _, alert = site_b_objects
    phone, _ = subject_client(subject)

    statuses = {
        url: phone.get(url.format(subject=subject.pk, alert=alert.pk)).status_code
        for url in STAFF_READS
    }
    writes = {
        url: phone.post(url.format(id=subject.pk), body, format="json").status_code
        for url, body in SUBJECT_PATHS.items()
        if url != "/api/v1/subjects/{id}/assessments/"
    }

    assert set(statuses.values()) | set(writes.values()) == {403}


@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/me/assessments/"])
def test_a_staff_token_reaches_no_me_endpoint(site_b_objects, path):
    subject, assessment, _ = site_b_objects
    for user in [UserFactory(site=subject.site), UserFactory(is_staff=True)]:
        response = staff_client(user).get(path)
        assert response.status_code == 403

    submit = staff_client(UserFactory(site=subject.site)).post(
        f"/api/v1/me/assessments/{assessment.pk}/response/",
        {"answers": PHQ9_ZERO},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert submit.status_code == 403
    assert Response.objects.count() == 0
