"""Tests for notifications/api/alerts.py: list, detail, acknowledge and resolve."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications import alerts
from notifications.evaluation import evaluate_subject
from notifications.models import Alert, Channel, Delivery
from screening.models import AuditEvent, CmaxResult
from tests.factories import (
    CmaxResultFactory,
    ResponseFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
    staff_client,
)
from tests.support import wait_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/alerts/"


@pytest.fixture
def subject():
    return SubjectFactory(site=SiteFactory(code="cpt"), study_id="CPT-001")


@pytest.fixture
def clinician(subject):
    # No email address: evaluating plans no implicit email delivery to them.
    return UserFactory(site=subject.site, username="dr-a", email="")


@pytest.fixture
def client(clinician):
    return staff_client(clinician)


def make_alert(subject, phq9_total: int = 12) -> Alert:
    ResponseFactory(subject=subject, answers=phq9_answers(phq9_total))
    evaluate_subject(subject_id=subject.pk)
    return Alert.objects.filter(subject=subject).latest("created_at")


def test_cmax_38_posted_after_phq9_12_yields_a_dose_review_alert_with_both_evidence(
    client, subject
):
    phq9 = ResponseFactory(subject=subject, answers=phq9_answers(12))
    sampled_at = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    posted = client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/",
        {
            "value": "38",
            "unit": "ug/mL",
            "sampled_at": sampled_at.isoformat(),
            "hours_post_dose": "2",
            "lab_reference": "LAB-38",
        },
        format="json",
    )
    assert posted.status_code == 201
    cmax_id = posted.json()["id"]

    evaluate_subject(subject_id=subject.pk)
    response = client.get(URL)

    assert response.status_code == 200
    [alert] = response.json()["results"]
    profile_reason_inputs = {
        "instrument": "PHQ-9",
        "response_id": str(phq9.pk),
        "completed_at": phq9.completed_at.isoformat(),
        "received_at": phq9.received_at.isoformat(),
        "valid": True,
        "total": 12,
        "threshold": 10,
    }
    assert alert == {
        "id": alert["id"],
        "subject": {"id": str(subject.pk), "study_id": "CPT-001", "site": "cpt"},
        "category": "dose_review",
        "severity": "high",
        "status": "open",
        "rules": ["R1"],
        "reasons": [
            {
                "rule": "R1",
                "text": "PHQ-9 total 12 (≥ 10): positive depression screen",
                "inputs": profile_reason_inputs,
            },
            {
                "rule": "R1",
                "text": "Current Cmax 38.000 µg/mL (> 35.00 µg/mL): above the ceiling (WHO 2014)",
                "inputs": {
                    "cmax_id": cmax_id,
                    "cmax_ug_per_ml": "38.000",
                    "sampled_at": sampled_at.isoformat(),
                    "hours_post_dose": "2.00",
                    "ceiling_ug_per_ml": "35.00",
                    "ceiling_source": "WHO 2014",
                    "above_ceiling": True,
                },
            },
        ],
        "recommended_actions": [
            "Review the cycloserine dose: reduce it.",
            "Repeat TDM after the dose change.",
        ],
        "evidence": {"responses": [str(phq9.pk)], "cmax_results": [cmax_id]},
        "profile_version": 1,
        "profile": alert["profile"],
        "escalation_tier": 1,
        "created_at": alert["created_at"],
        "updated_at": alert["updated_at"],
        "acknowledged_at": None,
        "acknowledged_by": None,
        "resolved_at": None,
        "resolution": None,
    }


def test_list_shows_only_the_alerts_of_the_clinicians_sites_newest_first(client, subject):
    first = make_alert(subject)
    second = make_alert(subject, phq9_total=20)  # D2: discontinuation, urgent
    make_alert(SubjectFactory())

    response = client.get(URL)

    assert [a["id"] for a in response.json()["results"]] == [str(second.pk), str(first.pk)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=discontinuation", ["discontinuation"]),
        ("severity=high", ["tdm_needed"]),
        ("status=open", ["discontinuation", "tdm_needed"]),
        ("status=resolved", []),
        ("site=cpt", ["discontinuation", "tdm_needed"]),
        ("site=elsewhere", []),
    ],
)
def test_list_filters(client, subject, query, expected):
    make_alert(subject)
    make_alert(subject, phq9_total=20)

    response = client.get(f"{URL}?{query}")

    assert [a["category"] for a in response.json()["results"]] == expected


def test_list_filters_by_subject(client, subject):
    make_alert(subject)
    other = SubjectFactory(site=subject.site)
    make_alert(other)

    response = client.get(f"{URL}?subject={other.pk}")

    assert [a["subject"]["id"] for a in response.json()["results"]] == [str(other.pk)]


@pytest.mark.parametrize("query", ["status=closed", "severity=1", "subject=nope", "category=x"])
def test_list_with_an_invalid_filter_is_a_400(client, query):
    response = client.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("alerts", [1, 6])
def test_list_query_count_stays_constant(client, subject, alerts, django_assert_num_queries):
    for _ in range(alerts):
        extra = SubjectFactory(site=subject.site)
        alert = make_alert(extra)
        CmaxResultFactory(subject=extra, value="20")
        alert.evidence_cmax_results.add(*CmaxResult.objects.filter(subject=extra))

    # token, token last use, alerts with subject/site/profile/users, responses, Cmax results
    with django_assert_num_queries(5):
        response = client.get(URL)

    assert len(response.json()["results"]) == alerts


def test_detail_lists_the_deliveries(client, subject, clinician):
    alert = make_alert(subject)
    channel = Channel.objects.create(user=clinician, kind="email", address="a@example.org")
    delivery = Delivery.objects.create(alert=alert, channel=channel, recipient=clinician)

    response = client.get(f"{URL}{alert.pk}/")

    assert response.status_code == 200
    assert response.json()["deliveries"] == [
        {
            "id": str(delivery.pk),
            "channel": "email",
            "channel_id": str(channel.pk),
            "recipient": {"id": str(clinician.staff_profile.public_id), "username": "dr-a"},
            "tier": 1,
            "status": "pending",
            "attempts": 0,
            "sent_at": None,
            "created_at": delivery.created_at.isoformat().replace("+00:00", "Z"),
        }
    ]


def test_other_sites_alerts_are_404_for_every_action(client):
    alert = make_alert(SubjectFactory())

    responses = [
        client.get(f"{URL}{alert.pk}/"),
        client.post(f"{URL}{alert.pk}/acknowledge/"),
        client.post(f"{URL}{alert.pk}/resolve/", {"action_taken": "referred"}, format="json"),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    alert.refresh_from_db()
    assert alert.status == "open"


def test_acknowledge_then_again_is_200_unchanged_and_audited_once(client, subject, clinician):
    alert = make_alert(subject)

    first = client.post(f"{URL}{alert.pk}/acknowledge/")
    again = client.post(f"{URL}{alert.pk}/acknowledge/")

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == "acknowledged"
    assert first.json()["acknowledged_by"] == {
        "id": str(clinician.staff_profile.public_id),
        "username": "dr-a",
    }
    assert again.json() == first.json()
    audit = AuditEvent.objects.filter(object_id=str(alert.pk), action="acknowledge").get()
    assert (audit.actor, audit.subject, audit.changes) == (
        clinician,
        subject,
        {"status": ["open", "acknowledged"]},
    )


def test_resolve_records_the_action_and_resolving_twice_is_409(client, subject, clinician):
    alert = make_alert(subject)

    response = client.post(
        f"{URL}{alert.pk}/resolve/",
        {"action_taken": "dose_reduced", "note": "750 -> 500 mg/day"},
        format="json",
    )
    twice = client.post(f"{URL}{alert.pk}/resolve/", {"action_taken": "no_change"}, format="json")
    acknowledge = client.post(f"{URL}{alert.pk}/acknowledge/")

    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert response.json()["resolution"] == {
        "action_taken": "dose_reduced",
        "note": "750 -> 500 mg/day",
        "resolved_by": {"id": str(clinician.staff_profile.public_id), "username": "dr-a"},
    }
    assert twice.status_code == 409
    assert twice.json() == {
        "error": {
            "code": "alert_resolved",
            "message": "The alert is resolved already.",
            "fields": {},
        }
    }
    assert acknowledge.status_code == 409
    audit = AuditEvent.objects.filter(object_id=str(alert.pk), action="resolve").get()
    assert (audit.actor, audit.changes, audit.reason) == (
        clinician,
        {"status": ["open", "resolved"], "action_taken": "dose_reduced"},
        "750 -> 500 mg/day",
    )


@pytest.mark.parametrize(
    "payload", [{}, {"action_taken": "cured"}, {"action_taken": None}, [], "x", {"note": 5}]
)
def test_resolve_with_invalid_input_is_a_400(client, subject, payload):
    alert = make_alert(subject)

    response = client.post(f"{URL}{alert.pk}/resolve/", payload, format="json")

    assert response.status_code == 400
    alert.refresh_from_db()
    assert alert.status == "open"


@pytest.mark.django_db(transaction=True)
def test_two_clinicians_resolving_at_once_one_gets_200_the_other_409(
    subject, clinician, monkeypatch
):
    alert = make_alert(subject)
    other = UserFactory(site=subject.site, username="dr-b", email="")
    statuses: dict[str, int] = {}

    def resolve(user, action):
        try:
            response = staff_client(user).post(
                f"{URL}{alert.pk}/resolve/", {"action_taken": action}, format="json"
            )
            statuses[user.username] = response.status_code
        finally:
            connection.close()

    second = threading.Thread(target=resolve, args=(other, "no_change"))
    record_audit = alerts.record_audit

    def dr_b_waits_for_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            return cursor.fetchone()[0] > 0

    def audit_while_dr_b_tries(**kwargs):
        # dr-a has resolved the alert but not committed: dr-b must wait for the row, not win too.
        if kwargs["actor"] == clinician:
            second.start()
            wait_for(dr_b_waits_for_a_lock, timeout=10)
        return record_audit(**kwargs)

    monkeypatch.setattr(alerts, "record_audit", audit_while_dr_b_tries)
    resolve(clinician, "dose_reduced")
    second.join(30)

    assert statuses == {"dr-a": 200, "dr-b": 409}
    alert.refresh_from_db()
    assert (alert.resolved_by, alert.action_taken) == (clinician, "dose_reduced")
    assert AuditEvent.objects.filter(object_id=str(alert.pk), action="resolve").count() == 1


def test_admins_see_every_site(admin_client_api):
    alert = make_alert(SubjectFactory())

    response = admin_client_api.get(URL)

    assert [a["id"] for a in response.json()["results"]] == [str(alert.pk)]


def test_a_staff_user_of_no_site_sees_nothing(subject):
    make_alert(subject)
    outsider = staff_client(UserFactory())

    assert outsider.get(URL).json()["results"] == []
