"""The subject's pages without a browser: activation, exactly-once submission, language, CSP."""

import re
import uuid
from pathlib import Path

import pytest
from django.test import Client

from screening.models import AccessToken, ActivationCode, Response
from screening.services.activation import issue_activation_code
from tests.factories import (
    AssessmentFactory,
    ScheduleEntryFactory,
    ScheduleFactory,
    SiteFactory,
    SubjectFactory,
    phq9_answers,
    staff_client,
)

pytestmark = pytest.mark.django_db
CRISIS = "Call the clinic on 0800 000 000."
PO = Path(__file__).resolve().parents[2] / "screening/locale/af/LC_MESSAGES/django.po"


def activated(subject) -> Client:
    _, code = issue_activation_code(subject=subject, actor=None)
    client = Client()
    reply = client.post("/s/activate/", {"code": code})
    assert reply.status_code == 302 and reply["Location"] == "/s/"
    return client


def form(answers: dict, key: str) -> dict:
    return {**{code: str(value) for code, value in answers.items()}, "idempotency_key": key}


def test_the_link_only_fills_the_code_in_and_pressing_start_activates():
    subject = SubjectFactory()
    _, code = issue_activation_code(subject=subject, actor=None)
    client = Client()
    page = client.get(f"/s/activate/{code}/")
    assert page.status_code == 200 and f'value="{code}"' in page.content.decode()
    assert ActivationCode.objects.get(subject=subject).used_at is None  # a GET uses nothing
    reply = client.post("/s/activate/", {"code": code})
    assert reply.status_code == 302
    assert AccessToken.objects.filter(subject=subject).count() == 1
    assert client.get("/s/").status_code == 200


def test_a_wrong_code_is_refused_in_the_chosen_language():
    reply = Client().post("/s/activate/?lang=af", {"code": "ABCDE-12345"})
    assert reply.status_code == 400
    assert "Hierdie kode is nie geldig nie" in reply.content.decode()
    assert Client().get("/s/").url == "/s/activate/"


def test_form_submission_is_stored_once_and_shows_the_crisis_message_never_a_score():
    subject = SubjectFactory(site=SiteFactory(crisis_message=CRISIS))
    assessment = AssessmentFactory(subject=subject)
    client = activated(subject)
    page = client.get(f"/s/q/{assessment.pk}/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    answers = phq9_answers(12, item9=1)
    first = client.post(f"/s/q/{assessment.pk}/", form(answers, key))
    assert first.status_code == 302 and first["Location"] == f"/s/done/{assessment.pk}/"
    # The same attempt again (a resend after a lost reply): no second response.
    again = client.post(f"/s/q/{assessment.pk}/", form(answers, key))
    assert again.status_code == 302
    other_key = client.post(f"/s/q/{assessment.pk}/", form(answers, str(uuid.uuid4())))
    assert other_key.status_code == 302
    assert Response.objects.filter(subject=subject).count() == 1
    stored = Response.objects.get()
    assert (stored.idempotency_key, stored.language, stored.score["total"]) == (key, "en", 12)
    done = client.get(first["Location"]).content.decode()
    assert CRISIS in done and 'role="alert"' in done
    visible = re.sub(r"<[^>]+>", " ", done)
    assert not re.search(r"\b12\b", visible) and "moderate" not in visible


def test_item9_zero_shows_no_crisis_message():
    subject = SubjectFactory(site=SiteFactory(crisis_message=CRISIS))
    assessment = AssessmentFactory(subject=subject)
    client = activated(subject)
    client.post(f"/s/q/{assessment.pk}/", form(phq9_answers(12, item9=0), "k-1"))
    assert CRISIS not in client.get(f"/s/done/{assessment.pk}/").content.decode()


def test_a_missing_answer_is_named_and_nothing_is_stored():
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject)
    client = activated(subject)
    answers = phq9_answers(5)
    del answers["phq9_4"]
    reply = client.post(f"/s/q/{assessment.pk}/", form(answers, "k-2"))
    assert reply.status_code == 400
    assert 'id="err-phq9_4"' in reply.content.decode()
    assert not Response.objects.exists()


def test_the_enhanced_page_gets_json_and_the_header_key_wins():
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject)
    client = activated(subject)
    reply = client.post(
        f"/s/q/{assessment.pk}/",
        form(phq9_answers(3), "form-key"),
        HTTP_IDEMPOTENCY_KEY="header-key",
        HTTP_ACCEPT="application/json",
    )
    assert reply.json() == {"redirect": f"/s/done/{assessment.pk}/"}
    assert Response.objects.get().idempotency_key == "header-key"


def test_another_subjects_questionnaire_is_not_found():
    subject = SubjectFactory()
    foreign = AssessmentFactory()
    client = activated(subject)
    assert client.get(f"/s/q/{foreign.pk}/").status_code == 404
    assert client.post(f"/s/q/{foreign.pk}/", form(phq9_answers(3), "k-3")).status_code in (
        404,
        409,
    )
    assert not Response.objects.exists()


def test_afrikaans_chrome_and_an_honest_english_fallback_for_the_instrument():
    subject = SubjectFactory(language="af")
    assessment = AssessmentFactory(subject=subject)
    client = activated(subject)
    page = client.get(f"/s/q/{assessment.pk}/")
    text = page.content.decode()
    assert page["Content-Language"] == "af" and '<html lang="af">' in text
    assert "Stuur" in text and "nog nie in Afrikaans beskikbaar nie" in text
    assert 'lang="en"' in text  # the English items are marked as English for screen readers


def test_revoking_the_phone_ends_the_page_session():
    subject = SubjectFactory()
    client = activated(subject)
    AccessToken.objects.filter(subject=subject).update(revoked_at="2020-01-01T00:00Z")
    assert client.get("/s/").url == "/s/activate/"


def test_logout_revokes_the_token():
    subject = SubjectFactory()
    client = activated(subject)
    assert client.post("/s/logout/").status_code == 302
    assert AccessToken.objects.active().filter(subject=subject).count() == 0


def test_pages_send_a_strict_content_security_policy():
    reply = Client().get("/s/activate/")
    policy = reply["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert re.search(r"script-src 'self'(;|$)", policy)
    assert "unsafe-inline" not in policy
    assert "<script>" not in reply.content.decode()  # no inline script


def test_the_root_sends_phones_to_their_pages():
    assert Client().get("/").url == "/s/"


def test_activation_code_api_returns_the_link_and_a_qr_svg(admin_user, settings):
    settings.PUBLIC_BASE_URL = "https://screening.example.org"
    subject = SubjectFactory()
    body = staff_client(admin_user).post(f"/api/v1/subjects/{subject.pk}/activation-code/").json()
    assert body["link"] == f"https://screening.example.org/s/activate/{body['code']}/"
    assert body["qr_svg"].startswith("<svg") and "</svg>" in body["qr_svg"]


@pytest.mark.parametrize(("language", "missing"), [("af", ["GAD-7", "PHQ-9"]), ("en", [])])
def test_enrolment_names_the_instruments_without_a_translation(admin_user, language, missing):
    site = SiteFactory(code="site-lang")
    schedule = ScheduleFactory(site=site)
    for code in ("PHQ-9", "GAD-7"):
        ScheduleEntryFactory(schedule=schedule, instrument_code=code)
    reply = staff_client(admin_user).post(
        "/api/v1/subjects/",
        {
            "site": site.code,
            "study_id": f"L-{language}",
            "treatment_start": "2026-11-01",
            "timezone": "Africa/Johannesburg",
            "language": language,
            "schedule": str(schedule.pk),
        },
        format="json",
    )
    assert reply.status_code == 201, reply.content
    assert reply.json()["untranslated_instruments"] == missing


def test_the_afrikaans_catalogue_is_complete_and_compiled():
    text = PO.read_text()
    entries = text.split("\n\n")[1:]
    assert entries and all('msgstr ""' not in entry.splitlines()[-1] for entry in entries)
    assert "#, fuzzy" not in text
    mo = PO.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= PO.stat().st_mtime - 1


def test_the_list_and_a_questionnaire_take_a_fixed_number_of_queries(
    django_assert_max_num_queries,
):
    subject = SubjectFactory()
    assessments = [
        AssessmentFactory(subject=subject, instrument=code)
        for code in ("PHQ-9", "GAD-7", "NEURO-SX")
    ]
    client = activated(subject)
    with django_assert_max_num_queries(8):
        page = client.get("/s/").content.decode()
    assert all(f"/s/q/{a.pk}/" in page for a in assessments)
    with django_assert_max_num_queries(10):
        assert client.get(f"/s/q/{assessments[2].pk}/").status_code == 200
