"""The Django admin: every page renders, subjects are enrolled through the service, previews."""

from datetime import UTC, datetime

import pytest
import time_machine

from screening.models import Assessment, AuditEvent, Subject
from tests.factories import (
    AssessmentFactory,
    MembershipFactory,
    RegimenChangeFactory,
    ScheduleEntryFactory,
    ScheduleFactory,
    SiteFactory,
    SubjectFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, admin_user):
    client.force_login(admin_user)
    return client


def test_every_admin_page_renders(admin_browser):
    site = SiteFactory()
    MembershipFactory(site=site)
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule)
    subject = SubjectFactory(site=site, schedule=schedule)
    subject.contact_email = "hidden.secret@example.org"
    subject.save()
    RegimenChangeFactory(subject=subject)
    AssessmentFactory(subject=subject)
    AuditEvent.objects.create(action="create", object_type="x", object_id="1")

    pages = [
        f"/admin/screening/{model}/{suffix}"
        for model in [
            "site",
            "sitemembership",
            "staffprofile",
            "subject",
            "regimenchange",
            "schedule",
            "assessment",
            "response",
            "auditevent",
        ]
        for suffix in ("",)
    ] + [
        "/admin/screening/subject/add/",
        f"/admin/screening/subject/{subject.pk}/change/",
        f"/admin/screening/schedule/{schedule.pk}/change/",
        "/admin/screening/regimenchange/add/",
    ]
    responses = {page: admin_browser.get(page) for page in pages}

    assert {page: r.status_code for page, r in responses.items()} == dict.fromkeys(pages, 200)
    subject_page = responses[f"/admin/screening/subject/{subject.pk}/change/"].content.decode()
    assert "hidden.secret" not in subject_page


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_schedule_preview_shows_local_times(admin_browser):
    site = SiteFactory(timezone="Africa/Johannesburg")
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=14, until_day=14)

    page = admin_browser.get(f"/admin/screening/schedule/{schedule.pk}/change/").content.decode()

    assert "PHQ-9 #0: day 0 &mdash; opens 2025-03-03 09:00 (Africa/Johannesburg)" in page
    assert "PHQ-9 #1: day 14 &mdash; opens 2025-03-17 09:00 (Africa/Johannesburg)" in page


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_admin_add_subject_enrols_through_the_service(admin_browser, admin_user):
    site = SiteFactory(timezone="Africa/Johannesburg")
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=None, until_day=None)

    response = admin_browser.post(
        "/admin/screening/subject/add/",
        {
            "site": site.pk,
            "study_id": "ADM-1",
            "timezone": "Africa/Johannesburg",
            "language": "en",
            "treatment_start": "2025-03-03",
            "schedule": schedule.pk,
            "sex": "",
            "contact_email": "admin.secret@example.org",
        },
    )

    assert response.status_code == 302
    subject = Subject.objects.get(study_id="ADM-1")
    assert subject.contact_email == "admin.secret@example.org"
    assert list(Assessment.objects.filter(subject=subject).values_list("status", flat=True)) == [
        "open"
    ]
    assert (
        AuditEvent.objects.filter(subject=subject, action="create", actor=admin_user).count() == 1
    )


def test_admin_refuses_an_unknown_timezone(admin_browser):
    site = SiteFactory()

    response = admin_browser.post(
        "/admin/screening/subject/add/",
        {
            "site": site.pk,
            "study_id": "ADM-2",
            "timezone": "Mars/Olympus",
            "language": "en",
            "treatment_start": "2025-03-03",
        },
    )

    assert response.status_code == 200
    assert Subject.objects.count() == 0


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_schedule_edit_preview_in_the_admin_shows_the_change_and_saves_nothing(admin_browser):
    site = SiteFactory(timezone="Africa/Johannesburg")
    schedule = ScheduleFactory(site=site, name="S")
    entry = ScheduleEntryFactory(
        schedule=schedule, repeat_every_days=14, until_day=28, window_hours=72
    )
    subject = SubjectFactory(site=site, schedule=schedule, treatment_start=datetime(2025, 3, 3))
    from screening.services.assessments import materialise_assessments

    materialise_assessments(subject=subject)
    form = {
        "name": "S",
        "site": str(site.pk),
        "entries-TOTAL_FORMS": "1",
        "entries-INITIAL_FORMS": "1",
        "entries-MIN_NUM_FORMS": "0",
        "entries-MAX_NUM_FORMS": "1000",
        "entries-0-id": str(entry.pk),
        "entries-0-schedule": str(schedule.pk),
        "entries-0-instrument_code": "PHQ-9",
        "entries-0-offset_days": "0",
        "entries-0-repeat_every_days": "7",
        "entries-0-until_day": "28",
        "entries-0-time_of_day": "09:00",
        "entries-0-window_hours": "72",
        "entries-0-reminder_hours": "[24]",
    }
    before = sorted(Assessment.objects.values_list("occurrence", "opens_at", "status"))

    page = admin_browser.post(
        f"/admin/screening/schedule/{schedule.pk}/change/", {**form, "_preview": "1"}
    )

    assert page.status_code == 200
    text = page.content.decode()
    assert "Preview only, nothing was saved. Entries: 0 added, 1 changed, 0 retired" in text
    assert "2 assessment(s) created, 2 re-timed, 0 cancelled" in text
    assert sorted(Assessment.objects.values_list("occurrence", "opens_at", "status")) == before
    entry.refresh_from_db()
    assert entry.repeat_every_days == 14
    saved = admin_browser.post(f"/admin/screening/schedule/{schedule.pk}/change/", form)
    assert saved.status_code == 302
    assert Assessment.objects.exclude(status="cancelled").count() == 5


def test_a_site_member_sees_only_their_sites_in_the_admin(client, admin_browser):
    cpt, dbn = SiteFactory(code="CPT"), SiteFactory(code="DBN")
    mine = SubjectFactory(site=cpt, study_id="CPT-001")
    theirs = SubjectFactory(site=dbn, study_id="DBN-001")
    own_assessment = AssessmentFactory(subject=mine)
    their_assessment = AssessmentFactory(subject=theirs)
    coordinator = MembershipFactory(site=cpt, role="coordinator").user
    coordinator.set_password("a-Long-pass-4821")
    coordinator.save()
    from django.test import Client

    browser = Client()
    signed_in = browser.post(
        "/admin/login/?next=/admin/",
        {"username": coordinator.username, "password": "a-Long-pass-4821", "next": "/admin/"},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"

    listing = browser.get("/admin/screening/subject/").content.decode()
    own = browser.get(f"/admin/screening/subject/{mine.pk}/change/")
    other = browser.get(f"/admin/screening/subject/{theirs.pk}/change/")
    other_assessment = browser.get(f"/admin/screening/assessment/{their_assessment.pk}/change/")
    own_assessment_page = browser.get(f"/admin/screening/assessment/{own_assessment.pk}/change/")
    other_site = browser.get(f"/admin/screening/site/{dbn.pk}/change/")

    assert "CPT-001" in listing and "DBN-001" not in listing
    assert own.status_code == 200
    assert other.status_code in (302, 404)  # "doesn't exist", as for an unknown id
    assert other_assessment.status_code in (302, 404)
    assert own_assessment_page.status_code == 200
    assert other_site.status_code in (302, 404)
    assert "DBN" not in browser.get("/admin/screening/site/").content.decode()
    # Users and groups are for admins only.
    assert browser.get("/admin/auth/user/").status_code == 403
    # A superuser sees both.
    everything = admin_browser.get("/admin/screening/subject/").content.decode()
    assert "CPT-001" in everything and "DBN-001" in everything
    assert admin_browser.get(f"/admin/screening/subject/{theirs.pk}/change/").status_code == 200


def test_someone_with_no_site_and_no_admin_role_cannot_sign_in_to_the_admin(client):
    from tests.factories import UserFactory

    user = UserFactory()
    user.set_password("a-Long-pass-4821")
    user.save()

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": user.username, "password": "a-Long-pass-4821", "next": "/admin/"},
    )

    assert response.status_code == 200  # the form again, with an error
    assert client.get("/admin/").status_code == 302


def test_admin_object_names_are_readable():
    site = SiteFactory(code="CPT")
    subject = SubjectFactory(site=site, study_id="CPT-001")
    member = MembershipFactory(site=site, user__username="dr.k", role="clinician")

    assert str(subject) == "CPT:CPT-001"
    assert str(member) == "dr.k (clinician, tier 1) at CPT"
    assert str(member.user.staff_profile) == "dr.k"


def test_admin_enrolment_warns_of_instruments_without_the_subjects_language(admin_browser):
    site = SiteFactory(timezone="Africa/Johannesburg")
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=None, until_day=None)
    response = admin_browser.post(
        "/admin/screening/subject/add/",
        {
            "site": site.pk,
            "study_id": "ADM-AF",
            "timezone": "Africa/Johannesburg",
            "language": "af",
            "treatment_start": "2025-03-03",
            "schedule": schedule.pk,
            "sex": "",
        },
        follow=True,
    )
    assert "No af translation of PHQ-9" in response.content.decode()
