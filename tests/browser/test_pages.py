"""Issue 11 in a real browser: the subject's phone pages and the clinician desk.

Chromium (Debian's) through pytest-playwright, against the live server on PostgreSQL, a real
Celery worker that evaluates the response and emails the alert to the SMTP sink, whose desk link
the clinician follows. axe-core runs on every page. Screenshots: var/screenshots/<test name>/.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import Alert
from screening.models import Response
from tests.factories import (
    AlertFactory,
    AssessmentFactory,
    CmaxResultFactory,
    RegimenChangeFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    staff_client,
)
from tests.notifications.sinks import SmtpSink
from tests.support import wait_for

from .conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.worker]

CRISIS = "Call the Lwazi clinic crisis line on 0800 123 456, day or night."
PASSWORD = "desk-pass-4821-long"


def activation_link(admin, subject) -> str:
    reply = staff_client(admin).post(f"/api/v1/subjects/{subject.pk}/activation-code/")
    assert reply.status_code == 201, reply.content
    body = reply.json()
    assert body["qr_svg"].lstrip().startswith("<svg")
    return body["link"]


def clinician_through_api(admin, site, username: str) -> None:
    """Create a clinician the way an admin does (the API), a member of the site."""
    client = staff_client(admin)
    user = client.post(
        "/api/v1/users/",
        {"username": username, "email": f"{username}@clinic.example.org", "password": PASSWORD},
        format="json",
    )
    assert user.status_code == 201, user.content
    member = client.post(
        f"/api/v1/sites/{site.code}/members/",
        {"user": user.json()["id"], "role": "clinician", "escalation_tier": 1},
        format="json",
    )
    assert member.status_code == 201, member.content


def answer(page, code: str, value) -> None:
    page.locator(f'fieldset[data-item="{code}"] input[value="{value}"]').check()


def progress(page):
    return page.locator("[data-progress-text]")


# PHQ-9: items 1-5 at 2 (total 10 + item 9 = 11, above the positive threshold of 10), item 9 = 1.
PHQ9 = {f"phq9_{n}": 2 for n in range(1, 6)} | {f"phq9_{n}": 0 for n in range(6, 9)}
PHQ9["phq9_9"] = 1


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_subject_answers_offline_then_clinician_acts(
    live_server,
    http_cookies,
    settings,
    browser,
    admin_user,
    start_worker,
    shots,
    check_axe,
):
    settings.PUBLIC_BASE_URL = live_server.url
    site = SiteFactory(code="site-a", crisis_message=CRISIS)
    other_site = SiteFactory(code="site-b")
    clinician_through_api(admin_user, site, "dr_a")
    UserFactory(username="dr_b", password=PASSWORD, site=other_site)
    subject = SubjectFactory(site=site, study_id="TB-0101")
    assessment = AssessmentFactory(subject=subject, instrument="PHQ-9")
    RegimenChangeFactory(
        subject=subject, effective_from=timezone.now() - timedelta(days=30), dose_mg_per_day=750
    )
    RegimenChangeFactory(
        subject=subject, effective_from=timezone.now() - timedelta(days=10), dose_mg_per_day=500
    )
    CmaxResultFactory(subject=subject, value="28", sampled_at=timezone.now() - timedelta(days=9))
    # A routine alert of the same site, older: the urgent one must still come first.
    AlertFactory(
        subject=SubjectFactory(site=site, study_id="TB-0102"),
        category=Alert.Category.TDM_NEEDED,
        severity=Alert.Severity.ROUTINE,
        rules=["T1"],
        reasons=[{"rule": "T1", "text": "No Cmax in the last 28 days.", "inputs": {}}],
        created_at=timezone.now() - timedelta(hours=5),
    )
    link = activation_link(admin_user, subject)

    with SmtpSink() as sink:
        start_worker(
            {
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(sink.port),
                "PUBLIC_BASE_URL": live_server.url,
            }
        )

        # --- the subject, on a phone -----------------------------------------------------------
        phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        page = phone.new_page()
        page.goto(link)
        expect(page.get_by_label("Activation code")).to_have_value(re.compile(r"\w{5}-\w{5}"))
        shots(page, "activation-link")
        check_axe(page)
        page.get_by_role("button", name="Start").click()
        expect(page.get_by_role("heading", name="Your questionnaires")).to_be_visible()
        shots(page, "questionnaires")
        check_axe(page)
        page.get_by_role("link", name=re.compile("PHQ-9")).click()
        expect(progress(page)).to_have_text("Question 1 of 10")
        check_axe(page)
        questionnaire_url = page.url
        codes = list(PHQ9)
        for number, code in enumerate(codes[:4], start=1):
            answer(page, code, PHQ9[code])
            if number == 4:
                expect(progress(page)).to_have_text("Question 4 of 10")
                shots(page, "item-4-of-10")
            page.get_by_role("button", name="Next").click()
        # Back shows the previous answer kept.
        page.get_by_role("button", name="Back").click()
        expect(page.locator('fieldset[data-item="phq9_4"] input[value="2"]')).to_be_checked()
        page.get_by_role("button", name="Next").click()

        # The tab closes; the answers and the place are kept on the phone.
        page.close()
        page = phone.new_page()
        page.goto(questionnaire_url)
        expect(progress(page)).to_have_text("Question 5 of 10")
        for code in codes[4:]:
            answer(page, code, PHQ9[code])
            page.get_by_role("button", name="Next").click()
        expect(progress(page)).to_have_text("Question 10 of 10")
        check_axe(page)
        # At 320 px nothing needs sideways scrolling.
        page.set_viewport_size({"width": 320, "height": 640})
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        shots(page, "item-10-at-320px")
        page.set_viewport_size(PHONE)
        key = page.evaluate(f"JSON.parse(localStorage.getItem('screening:{assessment.pk}')).key")

        # The connection drops just before sending.
        phone.set_offline(True)
        page.get_by_role("button", name="Send").click()
        expect(page.locator("[data-status]")).to_contain_text("kept on this phone")
        shots(page, "offline-answers-kept")
        assert Response.objects.filter(assessment=assessment).count() == 0
        phone.set_offline(False)
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(re.compile(r"/s/done/"))
        expect(page.get_by_role("alert")).to_contain_text(CRISIS)
        shots(page, "crisis-message")
        check_axe(page)
        body = page.content()
        assert "11" not in page.locator("main").inner_text()  # no score shown to the subject
        assert CRISIS in body
        stored = Response.objects.get(assessment=assessment)
        assert Response.objects.filter(subject=subject).count() == 1
        assert (stored.idempotency_key, stored.language, stored.score["total"]) == (key, "en", 11)
        # Back to the list: nothing left to answer, and the device forgot the answers.
        page.get_by_role("link", name="Back to your questionnaires").click()
        assert page.evaluate(f"localStorage.getItem('screening:{assessment.pk}')") is None
        check_axe(page)
        phone.close()

        # --- the worker evaluates and emails the clinician ----------------------------------------
        alert = wait_for(
            lambda: Alert.objects.filter(subject=subject, severity="urgent").first(), timeout=90
        )
        desk_link = f"{live_server.url}/desk/alerts/{alert.pk}/"
        wait_for(
            lambda: any(
                desk_link in email.message.get_payload(decode=True).decode()
                for email in sink.received
            ),
            timeout=90,
        )

    # --- a clinician of another site sees none of it ----------------------------------------------
    other = browser.new_context(viewport=DESKTOP)
    page = other.new_page()
    page.goto(f"{live_server.url}/desk/")
    sign_in(page, "dr_b")
    expect(page.get_by_text("No open alerts.")).to_be_visible()
    assert "TB-0101" not in page.content()
    for path in (f"/desk/alerts/{alert.pk}/", f"/desk/subjects/{subject.pk}/"):
        assert page.goto(f"{live_server.url}{path}").status == 404
    other.close()

    # --- the site's clinician follows the email's link --------------------------------------------
    desk = browser.new_context(viewport=DESKTOP)
    page = desk.new_page()
    page.goto(desk_link)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shots(page, "desk-sign-in")
    check_axe(page)
    sign_in(page, "dr_a")
    page.wait_for_url(desk_link)
    check_axe(page)
    page.goto(f"{live_server.url}/desk/")
    cards = page.locator("article.alert")
    expect(cards.first).to_be_visible()
    open_count = cards.count()
    assert open_count >= 2  # the urgent one, the routine one of TB-0102, maybe more findings
    severities = [badge.inner_text() for badge in cards.locator(".badge").all()]
    assert severities == sorted(severities, key=["URGENT", "HIGH", "ROUTINE"].index)
    first = cards.nth(0)
    expect(first).to_have_attribute("data-alert", str(alert.pk))
    expect(first.locator(".badge")).to_have_text("URGENT")
    expect(first.locator(".reasons")).to_contain_text("item 9")
    expect(first.locator(".deliveries")).to_contain_text("sent")
    expect(page.locator("article.alert", has_text="TB-0102")).to_have_count(1)
    shots(page, "desk-alerts")
    check_axe(page)

    first.get_by_role("link", name="TB-0101").click()
    timeline = page.locator("svg[data-timeline]")
    expect(timeline).to_be_visible()
    point = timeline.locator('circle[data-lane="phq9"]')
    expect(point).to_have_count(1)
    line = timeline.locator('line[data-threshold="phq9_positive"]')
    # SVG y grows downwards: above the line means a smaller y.
    assert float(point.get_attribute("cy")) < float(line.get_attribute("y1"))
    expect(timeline.locator("[data-regimen]")).to_have_count(2)
    expect(timeline.locator('rect[data-band="target"]')).to_have_count(1)
    expect(timeline.locator('[data-alert-marker="urgent"]')).to_have_count(1)
    expect(timeline.locator('circle[data-lane="cmax"]')).to_have_count(1)
    shots(page, "desk-subject-timeline")
    check_axe(page)

    page.goto(desk_link)
    card = page.locator(f'article[data-alert="{alert.pk}"]')
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("acknowledged")
    check_axe(page)
    card.get_by_label("Action taken").select_option("referred")
    card.get_by_label("Note").fill("Seen today; referred to the psychiatrist.")
    card.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_contain_text("resolved")
    shots(page, "desk-resolved")
    check_axe(page)
    alert.refresh_from_db()
    assert (alert.status, alert.action_taken, alert.acknowledged_by.username) == (
        "resolved",
        "referred",
        "dr_a",
    )
    page.goto(f"{live_server.url}/desk/")
    expect(page.locator("article.alert")).to_have_count(open_count - 1)
    expect(page.locator(f'article[data-alert="{alert.pk}"]')).to_have_count(0)
    # The desk on a phone, for a look.
    page.set_viewport_size(PHONE)
    shots(page, "desk-alerts-phone")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.goto(f"{live_server.url}/desk/").url.startswith(f"{live_server.url}/desk/login/")
    desk.close()


def test_core_path_without_javascript(
    live_server, http_cookies, settings, browser, admin_user, shots, check_axe
):
    settings.PUBLIC_BASE_URL = live_server.url
    site = SiteFactory(code="site-nojs", crisis_message=CRISIS)
    subject = SubjectFactory(site=site, study_id="TB-0201", language="af")
    assessment = AssessmentFactory(subject=subject, instrument="PHQ-9")
    link = activation_link(admin_user, subject)

    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(link)
    shots(page, "activation-no-js")
    check_axe(page, javascript=False)
    # The subject's language is Afrikaans: the page's words are; PHQ-9 has no Afrikaans text.
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="Jou vraelyste")).to_be_visible()
    check_axe(page, javascript=False)
    page.locator("a.big").click()
    expect(page.locator(".notice")).to_contain_text("nog nie in Afrikaans beskikbaar nie")
    # Without JavaScript every item is on the one form.
    expect(page.locator("fieldset[data-item]")).to_have_count(10)
    expect(page.locator("fieldset[data-item]").nth(9)).to_be_visible()
    shots(page, "questionnaire-no-js")
    check_axe(page, javascript=False)
    for code, value in PHQ9.items():
        if code != "phq9_3":
            answer(page, code, value)
    page.get_by_role("button", name="Stuur").click()
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.locator('fieldset[data-item="phq9_3"] .item-error')).to_be_visible()
    expect(page.locator('fieldset[data-item="phq9_1"] input[value="2"]')).to_be_checked()
    shots(page, "missing-answer-no-js")
    check_axe(page, javascript=False)
    assert Response.objects.filter(assessment=assessment).count() == 0
    answer(page, "phq9_3", PHQ9["phq9_3"])
    page.get_by_role("button", name="Stuur").click()
    expect(page.get_by_role("alert")).to_contain_text(CRISIS)
    expect(page.get_by_role("heading", name="Kry asseblief nou hulp")).to_be_visible()
    shots(page, "crisis-no-js")
    check_axe(page, javascript=False)
    stored = Response.objects.get(assessment=assessment)
    assert Response.objects.filter(subject=subject).count() == 1
    assert stored.language == "en"
    context.close()
