"""Staff entry and listing of a subject's responses."""

from datetime import timedelta

import pytest
from django.utils import timezone

from screening.models import AuditEvent, EvaluationRequest, Response
from tests.factories import (
    BPNS_NORMAL,
    GAD7_ZERO,
    PHQ9_ZERO,
    ResponseFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    local_midnight,
    phq9_answers,
    staff_client,
)

# Three days ago, on the hour: after the subject's treatment start (factories: 60 days ago).
COMPLETED_AT = (timezone.now() - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
COMPLETED = COMPLETED_AT.isoformat()


def enter(client, subject, instrument, answers, source="paper", completed_at=COMPLETED):
    return client.post(
        f"/api/v1/subjects/{subject.pk}/responses/",
        {
            "instrument": instrument,
            "answers": answers,
            "completed_at": completed_at,
            "source": source,
        },
        format="json",
    )


@pytest.fixture
def setting():
    site = SiteFactory()
    subject = SubjectFactory(site=site)
    staff = UserFactory(site=site)
    return subject, staff, staff_client(staff)


@pytest.mark.django_db
def test_paper_phq9_with_one_missing_item_is_prorated_and_audited(setting):
    subject, staff, client = setting
    answers = {**PHQ9_ZERO, "phq9_1": 3, "phq9_2": 3, "phq9_3": 3, "phq9_4": 3, "phq9_5": 1}
    del answers["phq9_8"]  # 13 over 8 items -> 14.625 -> 15

    response = client.post(
        f"/api/v1/subjects/{subject.pk}/responses/",
        {"instrument": "PHQ-9", "answers": answers, "completed_at": COMPLETED, "source": "paper"},
        format="json",
    )

    assert response.status_code == 201
    stored = Response.objects.get()
    assert response.json() == {
        "id": str(stored.pk),
        "instrument": "PHQ-9",
        "version": 1,
        "answers": answers,
        "started_at": None,
        "completed_at": COMPLETED_AT.isoformat().replace("+00:00", "Z"),
        "received_at": stored.received_at.isoformat().replace("+00:00", "Z"),
        "source": "paper",
        "language": "",
        "valid": True,
        "score": {
            "total": 15,
            "band": "moderately_severe",
            "flags": [],
            "prorated": True,
            "valid": True,
            "grade": None,
            "case": None,
            "invalid_reason": None,
        },
        "assessment": None,
        "entered_by": str(staff.staff_profile.public_id),
    }
    event = AuditEvent.objects.get(object_id=str(stored.pk))
    assert (event.action, event.actor_id, event.subject_id) == ("create", staff.pk, subject.pk)
    assert list(EvaluationRequest.objects.values_list("reason", "source_id")) == [
        ("response", str(stored.pk))
    ]


@pytest.mark.django_db
def test_unscorable_phq9_is_stored_invalid_with_its_item9_flag(setting):
    subject, _, client = setting

    response = enter(client, subject, "PHQ-9", {"phq9_1": 2, "phq9_2": 1})

    assert response.status_code == 201
    score = response.json()["score"]
    assert (score["valid"], score["total"], score["flags"]) == (False, None, ["item9_unanswered"])
    assert Response.objects.get().valid is False


@pytest.mark.django_db
def test_gad7_with_a_missing_item_is_invalid(setting):
    subject, _, client = setting
    answers = dict(GAD7_ZERO)
    del answers["gad7_7"]

    response = enter(client, subject, "GAD-7", answers, source="interview")

    assert (response.status_code, response.json()["score"]["valid"]) == (201, False)


@pytest.mark.django_db
def test_bpns_examination_is_scored_as_a_case(setting):
    subject, _, client = setting
    answers = {**BPNS_NORMAL, "r_pain": 5, "vibration_r": 8, "vibration_l": 0}

    response = enter(client, subject, "BPNS", answers, source="examination")

    assert response.status_code == 201
    score = response.json()["score"]
    assert (score["grade"], score["case"], score["valid"]) == (2, True, True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "instrument, source", [("BPNS", "paper"), ("BPNS", "interview"), ("PHQ-9", "examination")]
)
def test_examination_goes_with_clinician_instruments_only(setting, instrument, source):
    subject, _, client = setting

    response = enter(client, subject, instrument, {}, source=source)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["source"]


@pytest.mark.django_db
def test_completed_at_in_the_future_is_400(setting):
    subject, _, client = setting
    future = (timezone.now() + timedelta(days=1)).isoformat()

    response = enter(client, subject, "PHQ-9", PHQ9_ZERO, completed_at=future)

    assert response.json()["error"]["fields"] == {"completed_at": ["Cannot be in the future."]}


@pytest.mark.django_db
def test_each_bad_item_is_listed(setting):
    subject, _, client = setting

    response = enter(client, subject, "PHQ-9", {"phq9_1": 7, "phq9_2": None, "nope": 1})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "answers.phq9_1": ["Not one of the options: 0, 1, 2, 3."],
        "answers.nope": ["Unknown item."],
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"instrument": "XYZ", "answers": {}, "completed_at": COMPLETED, "source": "paper"},
        {"instrument": None, "answers": {}, "completed_at": COMPLETED, "source": "paper"},
        {"instrument": ["PHQ-9"], "answers": {}, "completed_at": COMPLETED, "source": "paper"},
        {"instrument": "PHQ-9", "answers": [], "completed_at": COMPLETED, "source": "paper"},
        {"instrument": "PHQ-9", "answers": "x", "completed_at": COMPLETED, "source": "paper"},
        {"instrument": "PHQ-9", "answers": None, "completed_at": COMPLETED, "source": "paper"},
        {"instrument": "PHQ-9", "answers": 10**300, "completed_at": COMPLETED, "source": "paper"},
        {"instrument": "PHQ-9", "answers": True, "completed_at": COMPLETED, "source": "paper"},
        {
            "instrument": "PHQ-9",
            "answers": {"phq9_1": {"a": [1]}},
            "completed_at": COMPLETED,
            "source": "paper",
        },
        {
            "instrument": "PHQ-9",
            "answers": {"phq9_1": 10**50},
            "completed_at": COMPLETED,
            "source": "paper",
        },
        {
            "instrument": "PHQ-9",
            "answers": {"phq9_1": False},
            "completed_at": COMPLETED,
            "source": "paper",
        },
        {"instrument": "PHQ-9", "answers": {}, "completed_at": "soon", "source": "paper"},
        {"instrument": "PHQ-9", "answers": {}, "completed_at": COMPLETED, "source": "phone"},
        {"instrument": "PHQ-9", "answers": {}, "completed_at": None, "source": "paper"},
        {},
        [],
    ],
)
def test_odd_staff_entries_are_400_never_500(setting, body):
    subject, _, client = setting

    response = client.post(f"/api/v1/subjects/{subject.pk}/responses/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"]
    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_list_is_newest_first_with_scores(setting):
    subject, _, client = setting
    now = timezone.now()
    old = ResponseFactory(subject=subject, completed_at=now - timedelta(days=3))
    new = ResponseFactory(
        subject=subject, instrument_code="GAD-7", completed_at=now - timedelta(days=1)
    )
    ResponseFactory(subject=SubjectFactory(site=subject.site))

    response = client.get(f"/api/v1/subjects/{subject.pk}/responses/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["id"], r["instrument"], r["version"]) for r in results] == [
        (str(new.pk), "GAD-7", 1),
        (str(old.pk), "PHQ-9", 1),
    ]
    assert results[0]["score"]["band"] == "minimal"


@pytest.mark.django_db
def test_list_query_count_is_constant(setting, django_assert_num_queries):
    subject, _, client = setting
    ResponseFactory(subject=subject)
    # token+user, last_used_at update, memberships+subject, page
    with django_assert_num_queries(4):
        assert len(client.get(f"/api/v1/subjects/{subject.pk}/responses/").json()["results"]) == 1
    for _ in range(10):
        ResponseFactory(subject=subject)
    with django_assert_num_queries(4):
        assert len(client.get(f"/api/v1/subjects/{subject.pk}/responses/").json()["results"]) == 11


@pytest.mark.django_db
def test_clinician_of_another_site_gets_404(setting):
    subject, _, _ = setting
    ResponseFactory(subject=subject)
    other = staff_client(UserFactory(site=SiteFactory()))

    listing = other.get(f"/api/v1/subjects/{subject.pk}/responses/")
    entry = enter(other, subject, "PHQ-9", PHQ9_ZERO)

    assert (listing.status_code, entry.status_code) == (404, 404)
    assert Response.objects.count() == 1


@pytest.mark.django_db
def test_admin_sees_every_site(admin_client_api):
    subject = SubjectFactory()
    ResponseFactory(subject=subject)

    response = admin_client_api.get(f"/api/v1/subjects/{subject.pk}/responses/")

    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    ("completed_at", "status"),
    [
        (lambda s: timezone.now() - timedelta(days=20), 201),  # paper, entered late: fine
        (lambda s: local_midnight(s, s.treatment_start), 201),  # the first day of treatment
        (lambda s: local_midnight(s, s.treatment_start) - timedelta(minutes=6), 400),
        (lambda s: timezone.now() + timedelta(minutes=6), 400),  # never in the future
    ],
)
@pytest.mark.django_db
def test_staff_entered_times_lie_between_enrolment_and_now(setting, completed_at, status):
    subject, _, client = setting
    response = enter(
        client, subject, "PHQ-9", phq9_answers(4), completed_at=completed_at(subject).isoformat()
    )
    assert response.status_code == status
    if status == 400:
        assert list(response.json()["error"]["fields"]) == ["completed_at"]
        assert not Response.objects.exists()
