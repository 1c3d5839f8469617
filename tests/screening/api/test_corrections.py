"""Corrections with reasons (issue 10): Cmax void and correct, response amendments, the audit.

End to end through the API and the evaluation: a Cmax 80 corrected to 8.0 turns the dose-review
alert's advice into the below-range finding and tells its clinicians; a voided Cmax leaves its
alert open with "evidence withdrawn"; an amended PHQ-9 is re-scored, re-evaluated, and the
original stays readable. Every change needs a reason and is in the subject's audit.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from notifications.delivery import deliver
from notifications.evaluation import evaluate_subject
from notifications.models import Alert, Delivery
from screening.models import Amendment, AuditEvent, CmaxResult, EvaluationRequest, Response
from tests.factories import (
    ChannelFactory,
    MembershipFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
    staff_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    site = SiteFactory(code="site-a")
    subject = SubjectFactory(site=site, with_regimen=True)
    clinician = UserFactory(site=site)
    ChannelFactory(user=clinician)
    return subject, clinician, staff_client(clinician)


def enter_phq9(client, subject, total: int, *, hours_ago: int = 2) -> dict:
    response = client.post(
        f"/api/v1/subjects/{subject.pk}/responses/",
        {
            "instrument": "PHQ-9",
            "answers": phq9_answers(total),
            "completed_at": (timezone.now() - timedelta(hours=hours_ago)).isoformat(),
            "source": "paper",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def enter_cmax(client, subject, value: str, *, lab: str = "LAB-1", hours: str = "2") -> dict:
    response = client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/",
        {
            "value": value,
            "unit": "ug/mL",
            "sampled_at": (timezone.now() - timedelta(hours=3)).isoformat(),
            "hours_post_dose": hours,
            "lab_reference": lab,
        },
        format="json",
    )
    assert response.status_code in (200, 201), response.json()
    return response.json()


def alerts(subject):
    return {alert.category: alert for alert in Alert.objects.filter(subject=subject, status="open")}


def test_correcting_80_to_8_turns_the_dose_review_advice_into_below_range_and_tells_clinicians(
    clinic,
):
    subject, clinician, client = clinic
    enter_phq9(client, subject, 12)
    wrong = enter_cmax(client, subject, "80")
    evaluate_subject(subject_id=subject.pk)
    dose_review = alerts(subject)["dose_review"]
    assert (dose_review.rules, dose_review.severity) == (["R1"], "high")
    assert "Review the cycloserine dose: reduce it." in dose_review.recommended_actions

    response = client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/{wrong['id']}/correct/",
        {"value": "8.0", "unit": "ug/mL", "reason": "typed 80 for 8.0"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    corrected = response.json()
    assert (corrected["value_ug_per_ml"], corrected["corrects"]) == ("8.000", wrong["id"])
    assert corrected["lab_reference"] == "LAB-1"
    evaluate_subject(subject_id=subject.pk)

    dose_review.refresh_from_db()
    assert dose_review.status == "open"
    assert dose_review.rules == ["B1"]  # R1 rested on the withdrawn value
    assert "Review the cycloserine dose: reduce it." not in dose_review.recommended_actions
    assert "Review the cycloserine dose for efficacy." in dose_review.recommended_actions
    texts = [reason["text"] for reason in dose_review.reasons]
    assert any(text.startswith("Evidence withdrawn: Cmax 80.000 µg/mL") for text in texts)
    assert any("corrected to 8.000 µg/mL" in text for text in texts)
    assert any(text.startswith("Current Cmax 8.000 µg/mL (< 20") for text in texts)
    assert all(
        reason.get("withdrawn")
        for reason in dose_review.reasons
        if reason["inputs"].get("cmax_id") == wrong["id"]
    )
    # The PHQ-9 with an in-range-or-lower Cmax is now a clinical review (C1).
    assert alerts(subject)["clinical_review"].rules == ["C1"]
    # The clinician is told, once: the alert's next revision is delivered with the note.
    (told,) = Delivery.objects.filter(alert=dose_review, revision=dose_review.revision)
    assert (told.recipient, dose_review.revision) == (clinician, 1)
    assert told.note.startswith("Evidence withdrawn: Cmax 80.000 µg/mL")
    assert told.note.endswith("This alert stays open: review it and resolve it.")
    assert deliver(told.pk) == "sent"
    (email,) = [m for m in mail.outbox if m.extra_headers["X-Delivery-Id"] == str(told.pk)]
    assert email.to == [clinician.email]
    assert "Evidence withdrawn" in email.body and "B1" in email.body
    evaluate_subject(subject_id=subject.pk)  # again: nothing noted or sent twice
    assert Delivery.objects.filter(alert=dose_review).count() == 2
    dose_review.refresh_from_db()
    assert dose_review.revision == 1
    # The occasion uses only the valid value; the wrong one is listed, voided.
    listed = {
        row["id"]: row
        for row in client.get(f"/api/v1/subjects/{subject.pk}/cmax-results/").json()["results"]
    }
    assert listed[wrong["id"]]["voided_at"] is not None
    assert listed[wrong["id"]]["occasion"] is None
    assert listed[corrected["id"]]["occasion"]["cmax_ug_per_ml"] == "8.000"


def test_a_voided_cmax_leaves_its_alert_open_with_evidence_withdrawn(clinic):
    subject, clinician, client = clinic
    result = enter_cmax(client, subject, "38")
    evaluate_subject(subject_id=subject.pk)
    alert = alerts(subject)["dose_review"]
    assert alert.rules == ["R2"]

    response = client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/{result['id']}/void/",
        {"reason": "sample of another patient"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["void_reason"] == "sample of another patient"
    evaluate_subject(subject_id=subject.pk)

    alert.refresh_from_db()
    assert alert.status == "open"  # not silently closed: a clinician resolves it
    assert alert.rules == []
    assert alert.reasons[-1]["rule"] == "withdrawn"
    assert alert.reasons[-1]["text"].startswith("Evidence withdrawn: Cmax 38.000 µg/mL")
    assert "was voided: sample of another patient" in alert.reasons[-1]["text"]
    assert alert.recommended_actions == [
        "The evidence of this alert was withdrawn (a Cmax result voided or corrected): review "
        "the alert and resolve it."
    ]
    told = Delivery.objects.filter(alert=alert).order_by("revision")
    assert [(d.revision, d.recipient_id) for d in told] == [(0, clinician.pk), (1, clinician.pk)]
    assert told[1].note.startswith("Evidence withdrawn: Cmax 38.000 µg/mL")
    assert alert.status == "open"
    # Voiding twice is refused; the voided result is never used again.
    again = client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/{result['id']}/void/",
        {"reason": "again"},
        format="json",
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_voided")


def test_an_amended_phq9_is_rescored_reevaluated_and_keeps_the_original_readable(clinic):
    subject, clinician, client = clinic
    original = enter_phq9(client, subject, 12)
    evaluate_subject(subject_id=subject.pk)
    tdm = alerts(subject)["tdm_needed"]
    assert tdm.rules == ["T1"]
    EvaluationRequest.objects.all().delete()

    response = client.post(
        f"/api/v1/responses/{original['id']}/amendments/",
        {"answers": {"phq9_4": 3, "phq9_5": 3, "phq9_9": 1}, "reason": "misread the paper form"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["answers"] == original["answers"]  # as received
    assert body["score"]["total"] == 12
    assert (
        body["current_score"]["total"]
        == 12 - original["answers"]["phq9_4"] - (original["answers"]["phq9_5"]) + 3 + 3 + 1
    )
    assert body["current_answers"]["phq9_9"] == 1
    (amendment,) = body["amendments"]
    assert amendment["reason"] == "misread the paper form"
    assert amendment["amended_by"] == str(clinician.staff_profile.public_id)
    assert amendment["previous_score"]["total"] == 12
    stored = Response.objects.get(pk=original["id"])
    assert (stored.answers, stored.score["total"]) == (original["answers"], 12)  # immutable
    assert list(EvaluationRequest.objects.values_list("reason", "source_id")) == [
        ("amendment", original["id"])
    ]

    evaluate_subject(subject_id=subject.pk)

    # Item 9 = 1 now: D1 (urgent) on the amended answers; the TDM alert says it was amended.
    assert alerts(subject)["discontinuation"].rules == ["D1"]
    tdm.refresh_from_db()
    assert tdm.reasons[-1]["rule"] == "amended"
    assert "misread the paper form" in tdm.reasons[-1]["text"]
    listed = client.get(f"/api/v1/subjects/{subject.pk}/responses/").json()["results"]
    assert [(row["score"]["total"], row["current_score"]["total"]) for row in listed] == [
        (12, body["current_score"]["total"])
    ]
    assert len(listed[0]["amendments"]) == 1


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_every_amendment_correction_and_void_requires_a_reason(clinic, reason):
    subject, _, client = clinic
    phq9 = enter_phq9(client, subject, 5)
    cmax = enter_cmax(client, subject, "30")
    extra = {} if reason is None else {"reason": reason}
    before = (AuditEvent.objects.count(), Amendment.objects.count(), CmaxResult.objects.count())

    answers = [
        client.post(
            f"/api/v1/responses/{phq9['id']}/amendments/",
            {"answers": {"phq9_1": 2}, **extra},
            format="json",
        ),
        client.post(
            f"/api/v1/subjects/{subject.pk}/cmax-results/{cmax['id']}/void/", extra, format="json"
        ),
        client.post(
            f"/api/v1/subjects/{subject.pk}/cmax-results/{cmax['id']}/correct/",
            {"value": "3", "unit": "ug/mL", **extra},
            format="json",
        ),
    ]

    assert [(a.status_code, list(a.json()["error"]["fields"])) for a in answers] == [
        (400, ["reason"])
    ] * 3
    after = (AuditEvent.objects.count(), Amendment.objects.count(), CmaxResult.objects.count())
    assert after == before
    assert CmaxResult.objects.get(pk=cmax["id"]).voided_at is None


def test_changes_are_audited_with_who_when_old_and_new_and_listed_newest_first(clinic):
    subject, clinician, client = clinic
    phq9 = enter_phq9(client, subject, 5)
    first = enter_cmax(client, subject, "80", lab="LAB-1")
    second = enter_cmax(client, subject, "31", lab="LAB-2")
    client.post(
        f"/api/v1/responses/{phq9['id']}/amendments/",
        {"answers": {"phq9_1": 0}, "reason": "subject corrected item 1"},
        format="json",
    )
    client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/{first['id']}/correct/",
        {"value": "8.0", "unit": "mg/L", "reason": "decimal point"},
        format="json",
    )
    client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/{second['id']}/void/",
        {"reason": "haemolysed"},
        format="json",
    )

    response = client.get(f"/api/v1/subjects/{subject.pk}/audit/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["at"] for row in rows] == sorted((row["at"] for row in rows), reverse=True)
    by_action = {row["action"]: row for row in rows}
    actor = str(clinician.staff_profile.public_id)
    amend, correct, void = by_action["amend"], by_action["correct"], by_action["void"]
    assert (amend["actor"], amend["reason"], amend["object_id"]) == (
        actor,
        "subject corrected item 1",
        phq9["id"],
    )
    assert amend["changes"]["old"]["answers"]["phq9_1"] == phq9["answers"]["phq9_1"]
    assert amend["changes"]["new"]["answers"]["phq9_1"] == 0
    assert (correct["actor"], correct["reason"]) == (actor, "decimal point")
    assert (correct["changes"]["old"]["value"], correct["changes"]["new"]["value"]) == (
        "80.000",
        "8.000",
    )
    assert correct["changes"]["new"]["unit"] == "mg/L"
    assert (void["actor"], void["reason"], void["changes"]["old"]["value"]) == (
        actor,
        "haemolysed",
        "31.000",
    )
    assert void["changes"]["new"] is None
    assert all(row["at"] for row in (amend, correct, void))


def test_the_subject_audit_is_paginated_newest_first(clinic, django_assert_max_num_queries):
    subject, _, client = clinic
    for number in range(3):
        enter_cmax(client, subject, "30", lab=f"LAB-{number}")
    everything = client.get(f"/api/v1/subjects/{subject.pk}/audit/").json()["results"]

    with django_assert_max_num_queries(5):
        first = client.get(f"/api/v1/subjects/{subject.pk}/audit/?page_size=2").json()
    second = client.get(first["next"]).json()

    ids = [row["id"] for row in first["results"] + second["results"]]
    assert len(first["results"]) == 2
    assert ids == [row["id"] for row in everything]
    assert len(everything) == 3


def test_an_admin_change_of_an_escalation_tier_appears_in_the_subject_audit(
    clinic, client, admin_user
):
    subject, _, staff = clinic
    membership = MembershipFactory(site=subject.site, escalation_tier=1)
    client.force_login(admin_user)

    response = client.post(
        f"/admin/screening/sitemembership/{membership.pk}/change/",
        {
            "user": membership.user_id,
            "site": membership.site_id,
            "role": membership.role,
            "escalation_tier": 2,
        },
    )

    assert response.status_code == 302, response.content[:2000]
    rows = staff.get(f"/api/v1/subjects/{subject.pk}/audit/").json()["results"]
    tier_rows = [row for row in rows if row["object_type"] == "screening.SiteMembership"]
    assert [(r["action"], r["changes"], r["reason"], r["site"]) for r in tier_rows[:1]] == [
        (
            "update",
            {"old": {"escalation_tier": 1}, "new": {"escalation_tier": 2}},
            "Django admin",
            "site-a",
        )
    ]
    assert tier_rows[0]["actor"] == str(admin_user.staff_profile.public_id)


def test_admin_changes_of_site_tiers_channels_users_and_rights_are_audited(client, admin_user):
    site = SiteFactory(code="site-x")
    user = UserFactory()
    channel = ChannelFactory(user=user, active=False)
    client.force_login(admin_user)

    # A membership added through the site's inline (the escalation tier).
    site_page = client.post(
        f"/admin/screening/site/{site.pk}/change/",
        {
            "code": site.code,
            "name": site.name,
            "timezone": site.timezone,
            "crisis_message": site.crisis_message,
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": user.pk,
            "memberships-0-role": "clinician",
            "memberships-0-escalation_tier": "3",
        },
    )
    # Channels are read only in the admin; its one write, "Re-enable", is audited.
    channel_page = client.post(
        "/admin/notifications/channel/",
        {"action": "enable", "_selected_action": [str(channel.pk)]},
    )
    user_page = client.post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": user.username,
            "email": user.email,
            "is_active": "on",
            "is_staff": "on",
            "date_joined_0": "2025-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2025-01-01",
            "initial-date_joined_1": "00:00:00",
        },
    )

    assert [p.status_code for p in (site_page, channel_page, user_page)] == [302, 302, 302]
    events = {
        (event.object_type, event.action): event
        for event in AuditEvent.objects.filter(reason="Django admin", actor=admin_user)
    }
    reenabled = AuditEvent.objects.get(
        object_type="notifications.Channel", object_id=str(channel.pk), actor=admin_user
    )
    membership = events[("screening.SiteMembership", "create")]
    assert membership.changes["new"]["escalation_tier"] == 3
    assert membership.site_id == site.pk
    assert (reenabled.action, reenabled.changes["enabled"], reenabled.changes["was_active"]) == (
        "update",
        True,
        False,
    )
    assert events[("auth.User", "update")].changes["new"]["is_staff"] is True


def test_the_admin_wide_audit_list_is_for_admins_only(clinic, admin_client_api):
    subject, _, client = clinic
    enter_cmax(client, subject, "30")

    assert client.get("/api/v1/audit/").status_code == 403
    rows = admin_client_api.get(f"/api/v1/audit/?subject={subject.pk}").json()["results"]
    assert [row["object_type"] for row in rows] == ["screening.CmaxResult"]


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"phq9_1": 4}, "answers.phq9_1"),  # out of range
        ({"unknown_item": 1}, "answers.unknown_item"),
        ({}, "answers"),
        ("not an object", "answers"),
    ],
)
def test_an_invalid_amendment_is_a_400_per_field_and_changes_nothing(clinic, answers, field):
    subject, _, client = clinic
    phq9 = enter_phq9(client, subject, 5)

    response = client.post(
        f"/api/v1/responses/{phq9['id']}/amendments/",
        {"answers": answers, "reason": "fix"},
        format="json",
    )

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Amendment.objects.count() == 0


def test_an_amendment_that_changes_nothing_is_refused(clinic):
    subject, _, client = clinic
    phq9 = enter_phq9(client, subject, 5)

    response = client.post(
        f"/api/v1/responses/{phq9['id']}/amendments/",
        {"answers": {"phq9_1": phq9["answers"]["phq9_1"]}, "reason": "no-op"},
        format="json",
    )

    assert (response.status_code, response.json()["error"]["message"]) == (
        400,
        "The amendment changes nothing.",
    )


def test_a_second_amendment_starts_from_the_first_and_null_unanswers_an_item(clinic):
    subject, _, client = clinic
    phq9 = enter_phq9(client, subject, 5)
    url = f"/api/v1/responses/{phq9['id']}/amendments/"
    first = client.post(url, {"answers": {"phq9_1": 0}, "reason": "one"}, format="json")
    assert first.status_code == 201

    second = client.post(url, {"answers": {"phq9_9": None}, "reason": "two"}, format="json")

    body = second.json()
    assert body["current_answers"]["phq9_1"] == 0
    assert "phq9_9" not in body["current_answers"]
    assert "item9_unanswered" in body["current_score"]["flags"]
    assert [a["reason"] for a in client.get(url).json()] == ["one", "two"]


@pytest.mark.parametrize(
    ("hours", "is_peak"), [("0.99", False), ("1", True), ("7", True), ("7.01", False)]
)
def test_a_sample_outside_the_peak_window_is_listed_as_not_a_peak(clinic, hours, is_peak):
    subject, _, client = clinic

    result = enter_cmax(client, subject, "10", hours=hours)

    assert result["is_peak"] is is_peak
    assert (result["occasion"] is not None) is is_peak
    if not is_peak:
        assert result["not_peak_reason"] == (
            f"Sampled {Decimal(hours):.2f} h after the dose, outside the peak window "
            "1.00–7.00 h: stored and shown, never used as the Cmax."
        )


def test_a_membership_added_through_the_api_appears_in_the_subject_audit(clinic, admin_client_api):
    subject, _, staff = clinic
    newcomer = UserFactory()

    added = admin_client_api.post(
        f"/api/v1/sites/{subject.site.code}/members/",
        {"user": str(newcomer.staff_profile.public_id), "role": "clinician", "escalation_tier": 2},
        format="json",
    )

    assert added.status_code == 201
    rows = staff.get(f"/api/v1/subjects/{subject.pk}/audit/").json()["results"]
    assert [(r["object_type"], r["changes"]["escalation_tier"]) for r in rows[:1]] == [
        ("screening.SiteMembership", 2)
    ]
    other_site = staff.get(f"/api/v1/subjects/{SubjectFactory().pk}/audit/")
    assert other_site.status_code == 404


def test_the_audited_admin_pages_render(client, admin_user):
    channel = ChannelFactory(user=UserFactory())
    client.force_login(admin_user)

    pages = [
        "/admin/notifications/channel/",
        f"/admin/notifications/channel/{channel.pk}/change/",
        "/admin/auth/user/",
        f"/admin/auth/user/{channel.user_id}/change/",
        "/admin/auth/group/add/",
    ]

    assert {page: client.get(page).status_code for page in pages} == dict.fromkeys(pages, 200)
