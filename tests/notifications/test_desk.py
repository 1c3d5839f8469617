"""The clinician desk without a browser: sign-in, site scoping, order, acknowledge/resolve."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from notifications.models import Alert
from tests.factories import (
    STAFF_PASSWORD,
    AlertFactory,
    CmaxResultFactory,
    ResponseFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
    staff_client,
)

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    reply = client.post("/desk/login/", {"username": user.username, "password": STAFF_PASSWORD})
    assert reply.status_code == 302, reply.content
    return client


def test_a_clinician_created_through_the_api_signs_in(admin_user):
    site = SiteFactory(code="site-api")
    api = staff_client(admin_user)
    user = api.post(
        "/api/v1/users/",
        {"username": "dr_new", "email": "dr@x.org", "password": "a-long-pass-8812"},
        format="json",
    ).json()
    api.post(f"/api/v1/sites/{site.code}/members/", {"user": user["id"], "role": "clinician"})
    client = Client()
    reply = client.post("/desk/login/", {"username": "dr_new", "password": "a-long-pass-8812"})
    assert reply.status_code == 302 and reply["Location"] == "/desk/"
    assert client.get("/desk/").status_code == 200
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_a_user_of_no_site_cannot_sign_in():
    user = UserFactory()
    reply = Client().post("/desk/login/", {"username": user.username, "password": STAFF_PASSWORD})
    assert reply.status_code == 200 and "belongs to no site" in reply.content.decode()


def test_the_desk_needs_a_session():
    assert Client().get("/desk/").url.startswith("/desk/login/?next=/desk/")


def test_open_alerts_of_own_sites_most_severe_first_other_sites_hidden(
    django_assert_max_num_queries,
):
    site, other = SiteFactory(code="site-x"), SiteFactory(code="site-y")
    user = UserFactory(site=site)
    now = timezone.now()
    routine = AlertFactory(
        subject=SubjectFactory(site=site),
        category="tdm_needed",
        severity="routine",
        created_at=now - timedelta(hours=9),
    )
    high = AlertFactory(
        subject=SubjectFactory(site=site),
        category="dose_review",
        severity="high",
        created_at=now - timedelta(hours=5),
    )
    urgent = AlertFactory(subject=SubjectFactory(site=site), created_at=now - timedelta(hours=1))
    AlertFactory(subject=SubjectFactory(site=site), status="resolved", category="clinical_review")
    foreign = AlertFactory(subject=SubjectFactory(site=other, study_id="FOREIGN-1"))
    client = signed_in(user)
    with django_assert_max_num_queries(12):
        page = client.get("/desk/").content.decode()
    order = [page.index(f'data-alert="{a.pk}"') for a in (urgent, high, routine)]
    assert order == sorted(order)
    assert "thoughts of self-harm" in page and "FOREIGN-1" not in page
    assert page.count('class="alert ') == 3
    for path in (f"/desk/alerts/{foreign.pk}/", f"/desk/subjects/{foreign.subject.pk}/"):
        assert client.get(path).status_code == 404


def test_acknowledge_and_resolve_need_csrf_and_a_coded_action_with_a_note():
    site = SiteFactory(code="site-z")
    user = UserFactory(site=site)
    alert = AlertFactory(subject=SubjectFactory(site=site))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(f"/desk/alerts/{alert.pk}/acknowledge/").status_code == 403
    page = client.get(f"/desk/alerts/{alert.pk}/")
    token = page.context["csrf_token"]
    client.post(f"/desk/alerts/{alert.pk}/acknowledge/", {"csrfmiddlewaretoken": token})
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", user)
    client.post(
        f"/desk/alerts/{alert.pk}/resolve/",
        {"csrfmiddlewaretoken": token, "action_taken": "referred", "note": ""},
    )
    alert.refresh_from_db()
    assert alert.status == "acknowledged"  # no note: not resolved
    client.post(
        f"/desk/alerts/{alert.pk}/resolve/",
        {"csrfmiddlewaretoken": token, "action_taken": "referred", "note": "Seen today."},
    )
    alert.refresh_from_db()
    assert (alert.status, alert.action_taken, alert.resolution_note) == (
        "resolved",
        Alert.Action.REFERRED,
        "Seen today.",
    )


def test_logout_ends_the_session():
    site = SiteFactory(code="site-out")
    client = signed_in(UserFactory(site=site))
    assert client.post("/desk/logout/").status_code == 302
    assert client.get("/desk/").status_code == 302


@pytest.mark.parametrize(("total", "above"), [(10, True), (9, False)])
def test_timeline_draws_the_phq9_point_against_its_threshold(total, above):
    site = SiteFactory(code="site-t")
    subject = SubjectFactory(site=site)
    ResponseFactory(subject=subject, answers=phq9_answers(total))
    CmaxResultFactory(subject=subject, value="40")
    client = signed_in(UserFactory(site=site))
    timeline = client.get(f"/desk/subjects/{subject.pk}/").context["timeline"]
    phq9 = next(lane for lane in timeline["lanes"] if lane["key"] == "phq9")
    line = next(t for t in phq9["thresholds"] if t["key"] == "phq9_positive")
    # At the threshold the point sits on the line (positive is >= 10); below, under it.
    assert (phq9["points"][0]["y"] <= line["y"]) is above
    cmax = next(lane for lane in timeline["lanes"] if lane["key"] == "cmax")
    assert (cmax["band"]["low"], cmax["band"]["high"]) == ("20", "35")
    assert cmax["points"][0]["y"] < cmax["thresholds"][0]["y"]  # 40 above the 35 ceiling


def test_staff_issue_a_printable_activation_code_with_a_qr():
    site = SiteFactory(code="site-qr")
    subject = SubjectFactory(site=site)
    client = signed_in(UserFactory(site=site))
    page = client.post(f"/desk/subjects/{subject.pk}/activation-code/").content.decode()
    assert "/s/activate/" in page and "<svg" in page


def test_alert_email_links_to_the_desk(settings):
    from notifications.transports.messages import alert_context

    settings.PUBLIC_BASE_URL = "https://screening.example.org"
    alert = AlertFactory()
    assert alert_context(alert)["desk_url"] == (
        f"https://screening.example.org/desk/alerts/{alert.pk}/"
    )


def test_reminder_links_to_the_subject_pages(settings):
    from notifications.models import Delivery, SubjectReminder
    from notifications.transports.messages import render_email, render_sms
    from tests.factories import AssessmentFactory

    settings.PUBLIC_BASE_URL = "https://screening.example.org"
    reminder = SubjectReminder(assessment=AssessmentFactory())
    delivery = Delivery(purpose=Delivery.Purpose.REMINDER, reminder=reminder)
    assert "https://screening.example.org/s/\n" in render_email(delivery)[1]
    assert render_sms(delivery).endswith(": https://screening.example.org/s/")


def test_a_coordinator_is_told_the_alert_stays_open_and_cannot_resolve_an_urgent_one():
    site = SiteFactory(code="site-coord")
    coordinator = UserFactory(site=site, site__role="coordinator")
    alert = AlertFactory(subject=SubjectFactory(site=site))
    client = signed_in(coordinator)
    page = client.post(f"/desk/alerts/{alert.pk}/acknowledge/", follow=True).content.decode()
    assert "stays open" in page
    reply = client.post(
        f"/desk/alerts/{alert.pk}/resolve/",
        {"action_taken": "no_change", "note": "Called."},
        follow=True,
    )
    assert "Only a clinician" in reply.content.decode()
    alert.refresh_from_db()
    assert alert.status == "open"


def test_the_subject_page_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    site = SiteFactory(code="site-q")
    subject = SubjectFactory(site=site)
    for total in (3, 8, 14):
        ResponseFactory(subject=subject, answers=phq9_answers(total))
        CmaxResultFactory(subject=subject, value=str(20 + total), lab_reference=f"L{total}")
        AlertFactory(subject=subject, category="clinical_review", status="resolved")
    client = signed_in(UserFactory(site=site))
    with django_assert_max_num_queries(14):
        page = client.get(f"/desk/subjects/{subject.pk}/").content.decode()
    assert page.count('data-lane="phq9" data-value') == 3


def test_desk_pages_send_the_content_security_policy():
    policy = Client().get("/desk/login/")["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy


def test_the_openapi_schema_describes_the_new_fields(admin_client_api):
    schema = admin_client_api.get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    assert {"link", "qr_svg"} <= set(schema["ActivationCode"]["properties"])
    assert "untranslated_instruments" in schema["EnrolledSubject"]["properties"]
    assert "language" in schema["Response"]["properties"]


def test_the_staff_session_ends_after_session_cookie_age():
    site = SiteFactory(code="site-exp")
    client = signed_in(UserFactory(site=site))
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)):
        assert client.get("/desk/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)):
        assert client.get("/desk/").status_code == 302


def test_desk_sign_in_is_rate_limited():
    client = Client()  # STAFF_LOGIN_RATE, 10/min by default, as for the API's token endpoint
    codes = [
        client.post("/desk/login/", {"username": "nobody", "password": "wrong"}).status_code
        for _ in range(11)
    ]
    assert codes == [200] * 10 + [429]
