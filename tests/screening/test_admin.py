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
