"""Tests for notifications/evaluation.py: database inputs -> decision table -> alerts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications import delivery
from notifications.alerts import resolve_alert
from notifications.evaluation import evaluate_subject
from notifications.models import Alert
from screening.evidence import latest_dose_change_at
from screening.models import AuditEvent, EvaluationRequest, Response, Subject
from screening.services.cmax_results import record_cmax_result
from screening.services.profiles import create_profile_version
from screening.services.submissions import enter_staff_response, submit_phone_response
from tests.factories import (
    AssessmentFactory,
    CmaxResultFactory,
    RegimenChangeFactory,
    ResponseFactory,
    SubjectFactory,
    UserFactory,
    gad7_answers,
    neuro_answers,
    phq9_answers,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def paged(monkeypatch):
    """Record every call of plan_deliveries (the delivery fan-out) as (alert id, tier)."""
    calls = []

    def spy(*, alert, tier=1, note=""):
        calls.append((alert.pk, tier) if not note else (alert.pk, tier, note))
        return []

    monkeypatch.setattr(delivery, "plan_deliveries", spy)
    return calls


def summary(subject):
    """Return each alert of the subject as (category, severity, rules, responses, cmax ids)."""
    return [
        (
            alert.category,
            alert.severity,
            alert.rules,
            sorted(str(pk) for pk in alert.evidence_responses.values_list("id", flat=True)),
            sorted(str(pk) for pk in alert.evidence_cmax_results.values_list("id", flat=True)),
        )
        for alert in Alert.objects.filter(subject=subject).order_by("created_at")
    ]


# --- inputs selected from the database (acceptance point 1) -----------------------------------


def test_evaluate_without_any_cmax_asks_for_tdm(paged):
    subject = SubjectFactory()
    phq9 = ResponseFactory(subject=subject, answers=phq9_answers(12))

    evaluate_subject(subject_id=subject.pk)

    assert summary(subject) == [("tdm_needed", "high", ["T1"], [str(phq9.pk)], [])]


@pytest.mark.parametrize(
    ("age_days", "expected"),
    [
        (27, ("dose_review", "high", ["R1"])),  # inside the 28-day recency window
        (29, ("tdm_needed", "high", ["T1"])),  # older: no current Cmax
    ],
)
def test_evaluate_ignores_a_cmax_older_than_the_recency_window(paged, age_days, expected):
    subject = SubjectFactory()
    ResponseFactory(subject=subject, answers=phq9_answers(12))
    CmaxResultFactory(
        subject=subject, value="38", sampled_at=timezone.now() - timedelta(days=age_days)
    )

    evaluate_subject(subject_id=subject.pk)

    assert [row[:3] for row in summary(subject)] == [expected]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # The dose changed after the sample: the level no longer describes the regimen.
        ({"dose_mg_per_day": 500}, ("tdm_needed", "high", ["T1"])),
        # So did the drug.
        ({"drug": "terizidone"}, ("tdm_needed", "high", ["T1"])),
        # Pyridoxine only: not a dose change, the Cmax is still current.
        ({"pyridoxine_mg_per_day": 200}, ("dose_review", "high", ["R1"])),
    ],
)
def test_evaluate_ignores_a_cmax_taken_before_the_latest_dose_change(paged, change, expected):
    subject = SubjectFactory()
    now = timezone.now()
    RegimenChangeFactory(
        subject=subject, effective_from=now - timedelta(days=40), dose_mg_per_day=750
    )
    CmaxResultFactory(subject=subject, value="38", sampled_at=now - timedelta(days=10))
    RegimenChangeFactory(
        subject=subject,
        effective_from=now - timedelta(days=5),
        **{"dose_mg_per_day": 750, "pyridoxine_mg_per_day": 150, **change},
    )
    ResponseFactory(subject=subject, answers=phq9_answers(12))

    evaluate_subject(subject_id=subject.pk)

    assert [row[:3] for row in summary(subject)] == [expected]


def test_latest_dose_change_ignores_the_first_regimen_and_non_dose_changes():
    subject = SubjectFactory()
    now = timezone.now()
    first = RegimenChangeFactory(
        subject=subject, effective_from=now - timedelta(days=30), dose_mg_per_day=750
    )
    dose = RegimenChangeFactory(
        subject=subject, effective_from=now - timedelta(days=20), dose_mg_per_day=500
    )
    pyridoxine = RegimenChangeFactory(
        subject=subject,
        effective_from=now - timedelta(days=10),
        dose_mg_per_day=500,
        isoniazid=True,
    )

    assert latest_dose_change_at([first]) is None
    assert latest_dose_change_at([first, dose, pyridoxine]) == dose.effective_from


def test_evaluate_takes_a_6h_sample_higher_than_the_2h_one_as_the_occasions_cmax(paged):
    subject = SubjectFactory()
    dose_at = timezone.now() - timedelta(days=2)
    CmaxResultFactory(
        subject=subject, value="30", sampled_at=dose_at + timedelta(hours=2), hours_post_dose="2"
    )
    six_hours = CmaxResultFactory(
        subject=subject, value="38", sampled_at=dose_at + timedelta(hours=6), hours_post_dose="6"
    )
    phq9 = ResponseFactory(subject=subject, answers=phq9_answers(12))

    evaluate_subject(subject_id=subject.pk)

    assert summary(subject) == [
        ("dose_review", "high", ["R1"], [str(phq9.pk)], [str(six_hours.pk)])
    ]
    alert = Alert.objects.get(subject=subject)
    assert alert.inputs["cmax"] == {
        "cmax_id": str(six_hours.pk),
        "value_ug_per_ml": "38.000",
        "sampled_at": six_hours.sampled_at.isoformat(),
        "hours_post_dose": "6.00",
    }


def test_evaluate_cmax_38_after_phq9_12_yields_dose_review_with_both_pieces_of_evidence(paged):
    subject = SubjectFactory()
    phq9 = ResponseFactory(subject=subject, answers=phq9_answers(12))
    cmax = CmaxResultFactory(subject=subject, value="38")

    outcome = evaluate_subject(subject_id=subject.pk)

    assert summary(subject) == [("dose_review", "high", ["R1"], [str(phq9.pk)], [str(cmax.pk)])]
    alert = Alert.objects.get(subject=subject)
    assert [reason["rule"] for reason in alert.reasons] == ["R1", "R1"]
    assert alert.profile.version == 1
    assert alert.recommended_actions == [
        "Review the cycloserine dose: reduce it.",
        "Repeat TDM after the dose change.",
    ]
    assert outcome.created == [alert]
    assert paged == [(alert.pk, 1)]


# --- idempotency and the life of an alert (acceptance point 4) --------------------------------


def test_re_evaluating_creates_no_duplicate_alert_and_pages_once(paged):
    subject = SubjectFactory()
    ResponseFactory(subject=subject, answers=phq9_answers(12))
    CmaxResultFactory(subject=subject, value="38")

    outcomes = [evaluate_subject(subject_id=subject.pk) for _ in range(5)]

    alert = Alert.objects.get(subject=subject)
    assert paged == [(alert.pk, 1)]
    assert [len(o.created) for o in outcomes] == [1, 0, 0, 0, 0]
    assert [len(o.updated) for o in outcomes] == [0, 0, 0, 0, 0]
    assert AuditEvent.objects.filter(object_id=str(alert.pk)).count() == 1


def test_the_unique_constraint_refuses_a_second_unresolved_alert_of_a_category(paged):
    subject = SubjectFactory()
    ResponseFactory(subject=subject, answers=phq9_answers(12))
    evaluate_subject(subject_id=subject.pk)
    first = Alert.objects.get(subject=subject)

    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(
            subject=subject, category=first.category, severity="high", profile=first.profile
        )


def test_a_new_finding_of_the_same_category_adds_evidence_without_paging(paged):
    subject = SubjectFactory()
    first = ResponseFactory(
        subject=subject,
        instrument_code="PHQ-9",
        answers=phq9_answers(12),
        completed_at=timezone.now() - timedelta(days=2),
    )
    evaluate_subject(subject_id=subject.pk)
    second = ResponseFactory(subject=subject, answers=phq9_answers(14))

    outcome = evaluate_subject(subject_id=subject.pk)

    alert = Alert.objects.get(subject=subject)
    assert summary(subject) == [
        ("tdm_needed", "high", ["T1"], sorted([str(first.pk), str(second.pk)]), [])
    ]
    assert outcome.updated == [alert]
    assert paged == [(alert.pk, 1)]
    assert [r["inputs"].get("response_id") for r in alert.reasons] == [
        str(first.pk),
        None,  # "no current Cmax"
        str(second.pk),
    ]


def test_a_higher_severity_of_the_same_category_raises_the_open_alert_and_pages_again_once(paged):
    subject = SubjectFactory()
    cmax = CmaxResultFactory(subject=subject, value="38")
    evaluate_subject(subject_id=subject.pk)  # R2: above the ceiling, no positive screen
    phq9 = ResponseFactory(subject=subject, answers=phq9_answers(12))

    evaluate_subject(subject_id=subject.pk)  # R1: high
    evaluate_subject(subject_id=subject.pk)  # the same evidence again: nobody is paged

    alert = Alert.objects.get(subject=subject)
    assert summary(subject) == [
        ("dose_review", "high", ["R1", "R2"], [str(phq9.pk)], [str(cmax.pk)])
    ]
    assert alert.revision == 1
    assert paged == [
        (alert.pk, 1),
        (alert.pk, 1, "Update: severity raised from routine to high."),
    ]
    assert AuditEvent.objects.filter(object_id=str(alert.pk), action="update").get().changes == {
        "worsened": ["severity raised from routine to high"],
        "rules_added": ["R1"],
        "severity": ["routine", "high"],
        "responses_added": [str(phq9.pk)],
    }


def test_a_more_severe_category_opens_its_own_alert_and_pages(paged):
    subject = SubjectFactory()
    ResponseFactory(
        subject=subject,
        instrument_code="PHQ-9",
        answers=phq9_answers(12),
        completed_at=timezone.now() - timedelta(1),
    )
    evaluate_subject(subject_id=subject.pk)
    item9 = ResponseFactory(
        subject=subject, instrument_code="PHQ-9", answers=phq9_answers(12, item9=1)
    )

    evaluate_subject(subject_id=subject.pk)

    categories = list(
        Alert.objects.filter(subject=subject).order_by("created_at").values_list("category")
    )
    assert categories == [("tdm_needed",), ("discontinuation",)]
    discontinuation = Alert.objects.get(subject=subject, category="discontinuation")
    assert (discontinuation.severity, discontinuation.rules) == ("urgent", ["D1"])
    assert list(discontinuation.evidence_responses.all()) == [item9]
    assert len(paged) == 2


def test_after_resolution_only_newer_evidence_opens_a_new_alert(paged):
    subject = SubjectFactory()
    clinician = UserFactory(site=subject.site)
    ResponseFactory(subject=subject, answers=phq9_answers(12))
    evaluate_subject(subject_id=subject.pk)
    first = Alert.objects.get(subject=subject)
    resolve_alert(alert_id=first.pk, user=clinician, action_taken="referred", note="")

    evaluate_subject(subject_id=subject.pk)  # the same evidence: nothing new
    assert Alert.objects.filter(subject=subject).count() == 1

    # A paper form completed before the resolution but entered after it is new to the clinician.
    later = ResponseFactory(
        subject=subject,
        instrument_code="GAD-7",
        answers=gad7_answers(11),
        completed_at=timezone.now() - timedelta(days=3),
        received_at=timezone.now() + timedelta(seconds=1),
        source="paper",
    )
    evaluate_subject(subject_id=subject.pk)

    second = Alert.objects.exclude(pk=first.pk).get(subject=subject)
    assert (second.category, second.status, second.rules) == ("tdm_needed", "open", ["T1"])
    assert str(later.pk) in [
        str(pk) for pk in second.evidence_responses.values_list("id", flat=True)
    ]
    assert paged == [(first.pk, 1), (second.pk, 1)]


def test_evaluation_marks_pending_requests_processed_and_records_the_profile_version(paged):
    subject = SubjectFactory()
    other = SubjectFactory()
    change = create_profile_version(changes={"cmax_ceiling": "30", "cmax_ceiling_source": "label"})
    CmaxResultFactory(subject=subject, value="32")
    ResponseFactory(subject=subject, instrument_code="NEURO-SX", answers=neuro_answers(2))

    evaluate_subject(subject_id=subject.pk)

    assert EvaluationRequest.objects.filter(subject=subject, processed_at__isnull=True).count() == 0
    assert EvaluationRequest.objects.filter(subject=other, processed_at__isnull=True).count() == 1
    alerts = Alert.objects.filter(subject=subject).order_by("category")
    assert [(a.category, a.rules, a.profile_id) for a in alerts] == [
        ("clinical_review", ["E1"], change.profile.pk),
        ("dose_review", ["R1"], change.profile.pk),
    ]


def test_evaluate_an_unknown_or_malformed_subject_does_nothing(paged):
    assert evaluate_subject(subject_id="not-a-uuid") is None
    assert evaluate_subject(subject_id="00000000-0000-0000-0000-000000000000") is None
    assert paged == []


# --- evidence dated a little ahead of our clock -----------------------------------------------


def test_a_phone_answer_completed_on_a_fast_clock_is_evaluated_at_once(paged):
    # The phone may claim a completion time up to 5 min ahead (submissions.CLOCK_SKEW); the
    # evaluation queued by the submission runs at once and is the only one: it must see it.
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject, instrument="PHQ-9")
    submit_phone_response(
        subject=subject,
        assessment_id=assessment.pk,
        answers=phq9_answers(5, item9=1),
        idempotency_key="fast-clock",
        request_hash="h",
        completed_at=timezone.now() + timedelta(minutes=3),
    )
    response = Response.objects.get(subject=subject)

    evaluate_subject(subject_id=subject.pk)

    assert summary(subject) == [("discontinuation", "urgent", ["D1"], [str(response.pk)], [])]


def test_a_cmax_sampled_on_a_fast_lab_clock_is_current_at_once(paged):
    # A lab clock may run up to 5 min ahead (tdm.CLOCK_SKEW): the level counts at once.
    subject = SubjectFactory()
    phq9 = ResponseFactory(subject=subject, answers=phq9_answers(12))
    cmax, _ = record_cmax_result(
        subject=subject,
        value=Decimal("38"),
        unit="ug/mL",
        sampled_at=timezone.now() + timedelta(minutes=3),
        hours_post_dose=Decimal("2"),
        lab_reference="LAB-FAST",
    )

    evaluate_subject(subject_id=subject.pk)

    assert summary(subject) == [("dose_review", "high", ["R1"], [str(phq9.pk)], [str(cmax.pk)])]


# --- the evaluation's clock -------------------------------------------------------------------


def test_a_response_stored_while_the_evaluation_waited_for_the_subject_is_evaluated(
    paged, monkeypatch
):
    # An evaluation queues on the subject's row lock; a phone answer committed meanwhile has its
    # request marked processed by this evaluation, so this evaluation must see the answer.
    subject = SubjectFactory()
    real_lock = Subject.objects.select_for_update
    stored = []

    def lock_after_a_submission(*args, **kwargs):
        stored.append(
            ResponseFactory(
                subject=subject,
                answers=phq9_answers(5, item9=2),
                completed_at=timezone.now(),
                received_at=timezone.now(),
            )
        )
        EvaluationRequest.objects.create(subject=subject, reason="response")
        return real_lock(*args, **kwargs)

    monkeypatch.setattr(Subject.objects, "select_for_update", lock_after_a_submission)

    outcome = evaluate_subject(subject_id=subject.pk)

    assert outcome.requests_processed == 1
    assert summary(subject) == [("discontinuation", "urgent", ["D1"], [str(stored[0].pk)], [])]


def test_a_staff_phq9_too_incomplete_to_score_still_raises_d1_for_its_unanswered_item9(paged):
    subject = SubjectFactory()
    answers = {**phq9_answers(12), "phq9_7": None, "phq9_8": None, "phq9_9": None}
    response = enter_staff_response(
        subject=subject,
        instrument_code="PHQ-9",
        answers=answers,
        completed_at=timezone.now() - timedelta(hours=1),
        source="paper",
        entered_by=UserFactory(site=subject.site),
    )
    assert (response.valid, response.score["flags"]) == (False, ["item9_unanswered"])

    evaluate_subject(subject_id=subject.pk)

    alert = Alert.objects.get(subject=subject)
    assert summary(subject) == [("discontinuation", "urgent", ["D1"], [str(response.pk)], [])]
    assert [(r["rule"], r["text"], r["inputs"]["flag"]) for r in alert.reasons] == [
        (
            "D1",
            "PHQ-9 item 9 not answered: ask directly about thoughts of self-harm",
            "item9_unanswered",
        )
    ]


def test_a_phone_phq9_with_item9_1_opens_a_d1_alert_whose_reason_names_the_item_and_value(paged):
    subject = SubjectFactory()
    assessment = AssessmentFactory(subject=subject, instrument="PHQ-9")
    submit_phone_response(
        subject=subject,
        assessment_id=assessment.pk,
        answers=phq9_answers(4, item9=1),
        idempotency_key="item9",
        request_hash="h",
    )
    response = Response.objects.get(subject=subject)
    assert (response.valid, response.score["total"], response.score["flags"]) == (
        True,
        4,
        ["item9_positive"],
    )

    evaluate_subject(subject_id=subject.pk)

    alert = Alert.objects.get(subject=subject)
    assert (alert.category, alert.severity, alert.rules) == ("discontinuation", "urgent", ["D1"])
    assert alert.reasons == [
        {
            "rule": "D1",
            "text": "PHQ-9 item 9 answered 1 (≥ 1): thoughts of being better off dead or of "
            "self-harm",
            "inputs": {
                "instrument": "PHQ-9",
                "response_id": str(response.pk),
                "completed_at": response.completed_at.isoformat(),
                "received_at": response.received_at.isoformat(),
                "valid": True,
                "item9": 1,
                "threshold": 1,
                "flag": "item9_positive",
            },
        }
    ]
    assert alert.recommended_actions == [
        "Assess suicide risk and psychiatric state the same day.",
        "Suspend cycloserine pending clinical review.",
        "Confirm exposure with TDM (Cmax).",
    ]
    assert alert.profile.version == 1


def test_a_staff_neuro_sx_with_a_blank_item_and_a_severity_of_9_reaches_a_clinician(paged):
    # r_pain 9 gives grade >= 3 whatever l_numbness holds (docs/clinical-reference.md §1): with no
    # Cmax that is T1, and with no BPNS within 28 days E1, although the form is invalid.
    subject = SubjectFactory()
    answers = {**neuro_answers(0), "r_pain": 9}
    del answers["l_numbness"]
    response = enter_staff_response(
        subject=subject,
        instrument_code="NEURO-SX",
        answers=answers,
        completed_at=timezone.now() - timedelta(hours=1),
        source="paper",
        entered_by=UserFactory(site=subject.site),
    )
    assert (response.valid, response.score) == (
        False,
        {
            "total": None,
            "band": None,
            "flags": ["incomplete_with_symptoms"],
            "prorated": False,
            "valid": False,
            "grade": 3,
            "case": None,
            "invalid_reason": "unanswered items (l_numbness)",
        },
    )

    evaluate_subject(subject_id=subject.pk)

    assert sorted(summary(subject)) == [
        ("clinical_review", "routine", ["E1"], [str(response.pk)], []),
        ("tdm_needed", "high", ["T1"], [str(response.pk)], []),
    ]
    inputs = {
        "instrument": "NEURO-SX",
        "response_id": str(response.pk),
        "completed_at": response.completed_at.isoformat(),
        "received_at": response.received_at.isoformat(),
        "valid": False,
        "grade": 3,
        "grade_is_lower_bound": True,
        "flag": "incomplete_with_symptoms",
        "threshold": 1,
    }
    reasons = {
        alert.category: [(r["rule"], r["text"], r["inputs"]) for r in alert.reasons]
        for alert in Alert.objects.filter(subject=subject)
    }
    assert reasons == {
        "tdm_needed": [
            (
                "T1",
                "Neuropathy symptom form incomplete: grade at least 3 from the answered items "
                "(≥ 1): positive neuropathy symptom screen",
                inputs,
            ),
            (
                "T1",
                "No current Cmax: none within 28 days and after the latest dose change",
                {"cmax_id": None, "recency_days": 28},
            ),
        ],
        "clinical_review": [
            (
                "E1",
                "Neuropathy symptom form incomplete: grade at least 3 from the answered items "
                "(≥ 1) and no BPNS examination in the last 28 days",
                inputs | {"bpns_window_days": 28},
            )
        ],
    }
    snapshot = Alert.objects.get(subject=subject, category="tdm_needed").inputs
    assert (snapshot["screens"], snapshot["neuro_incomplete"]["response_id"]) == (
        {},
        str(response.pk),
    )
