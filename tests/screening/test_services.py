"""Enrolment, materialisation, schedule edits, withdrawal and regimen changes."""

import datetime as dt
from datetime import UTC, date, datetime, time

import pytest
import time_machine

from screening.models import Assessment, AuditEvent, EvaluationRequest, ScheduleEntry, Subject
from screening.services import assessments, enrolment, schedules
from tests.factories import (
    AssessmentFactory,
    ScheduleEntryFactory,
    ScheduleFactory,
    SiteFactory,
    SubjectFactory,
)

pytestmark = pytest.mark.django_db


def entry_dict(**overrides) -> dict:
    values = {
        "instrument_code": "PHQ-9",
        "offset_days": 0,
        "repeat_every_days": 14,
        "until_day": 28,
        "time_of_day": time(9, 0),
        "window_hours": 72,
        "reminder_hours": [24, 48],
    }
    return {**values, **overrides}


def timeline(subject) -> list[tuple]:
    return [
        (a.instrument_code, a.occurrence, a.opens_at, a.status)
        for a in Assessment.objects.filter(subject=subject).order_by("opens_at", "instrument_code")
    ]


def enrol(site, schedule=None, *, tz="Africa/Johannesburg", start=date(2025, 3, 3), **kw):
    return enrolment.enrol_subject(
        site=site,
        study_id=kw.pop("study_id", "S-001"),
        treatment_start=start,
        timezone_name=tz,
        schedule=schedule,
        **kw,
    )


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_enrol_materialises_baseline_open_at_once_and_later_ones_scheduled():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site, is_default=True)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=14, until_day=28)

    subject = enrol(site)  # the site's default schedule

    assert subject.schedule == schedule
    assert timeline(subject) == [
        ("PHQ-9", 0, datetime(2025, 3, 3, 7, 0, tzinfo=UTC), "open"),
        ("PHQ-9", 1, datetime(2025, 3, 17, 7, 0, tzinfo=UTC), "scheduled"),
        ("PHQ-9", 2, datetime(2025, 3, 31, 7, 0, tzinfo=UTC), "scheduled"),
    ]


@time_machine.travel(datetime(2025, 3, 10, 8, 0, tzinfo=UTC), tick=False)
def test_enrol_skips_occurrences_whose_window_closed():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=14, until_day=28)

    subject = enrol(site, schedule)  # treatment started a week ago: baseline closed on the 6th

    assert [(occ, status) for _, occ, _, status in timeline(subject)] == [
        (1, "scheduled"),
        (2, "scheduled"),
    ]


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_materialise_twice_creates_nothing_new():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule)
    ScheduleEntryFactory(schedule=schedule, instrument_code="GAD-7")
    subject = enrol(site, schedule)
    before = list(Assessment.objects.filter(subject=subject).values_list("id", "updated_at"))

    result = assessments.materialise_assessments(subject=subject)

    assert result == assessments.MaterialiseResult(created=0, retimed=0, cancelled=0)
    after = list(Assessment.objects.filter(subject=subject).values_list("id", "updated_at"))
    assert sorted(after) == sorted(before)
    assert len(after) == 2 * 13  # days 0, 14, ..., 168


@time_machine.travel(datetime(2025, 3, 1, 0, 0, tzinfo=UTC), tick=False)
@pytest.mark.parametrize(
    ("tz", "start", "expected"),
    [
        (
            "Africa/Johannesburg",
            date(2025, 3, 3),
            [datetime(2025, 3, 3, 7, 0, tzinfo=UTC), datetime(2025, 3, 10, 7, 0, tzinfo=UTC)],
        ),
        (
            "America/New_York",  # spring forward on 2025-03-09
            date(2025, 3, 3),
            [datetime(2025, 3, 3, 14, 0, tzinfo=UTC), datetime(2025, 3, 10, 13, 0, tzinfo=UTC)],
        ),
        (
            "Pacific/Tongatapu",  # UTC+13
            date(2025, 3, 3),
            [datetime(2025, 3, 2, 20, 0, tzinfo=UTC), datetime(2025, 3, 9, 20, 0, tzinfo=UTC)],
        ),
    ],
)
def test_enrol_assessments_at_nine_local_time(tz, start, expected):
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=7, until_day=7)

    subject = enrol(site, schedule, tz=tz, start=start)

    assert [opens for _, _, opens, _ in timeline(subject)] == expected


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_enrol_with_regimen_records_first_change_at_local_midnight_and_audits():
    site = SiteFactory()

    subject = enrol(
        site,
        contact_email="p@example.org",
        regimen={"drug": "cycloserine", "dose_mg_per_day": 750, "pyridoxine_mg_per_day": 50},
    )

    change = subject.regimen_changes.get()
    assert change.effective_from == datetime(2025, 3, 2, 22, 0, tzinfo=UTC)  # 00:00 SAST
    assert (change.drug, change.dose_mg_per_day, change.pyridoxine_mg_per_day) == (
        "cycloserine",
        750,
        50,
    )
    events = AuditEvent.objects.filter(subject=subject).order_by("at", "id")
    assert [(e.action, e.object_type) for e in events] == [
        ("create", "screening.Subject"),
        ("create", "screening.RegimenChange"),
    ]
    assert events[0].changes["contact_email"] == "set"
    assert list(EvaluationRequest.objects.values_list("reason", "source_id")) == [
        ("regimen", str(change.pk))
    ]


def test_enrol_duplicate_study_id_raises():
    site = SiteFactory()
    enrol(site, study_id="DUP-1")

    with pytest.raises(enrolment.DuplicateStudyId):
        enrol(site, study_id="DUP-1")

    assert Subject.objects.filter(study_id="DUP-1").count() == 1


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_schedule_edit_leaves_opened_and_answered_assessments_untouched():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    entry = ScheduleEntryFactory(schedule=schedule, repeat_every_days=14, until_day=28)
    subject = enrol(site, schedule)
    baseline = Assessment.objects.get(subject=subject, occurrence=0)
    assert baseline.status == "open"
    Assessment.objects.filter(pk=baseline.pk).update(status=Assessment.Status.COMPLETED)
    missed = AssessmentFactory(
        subject=subject,
        schedule_entry=entry,
        occurrence=99,
        opens_at=datetime(2025, 2, 1, 7, 0, tzinfo=UTC),
        status=Assessment.Status.MISSED,
    )

    # Same entry moved to 10:00 and to every 7 days until day 21; a GAD-7 added.
    schedules.update_schedule(
        schedule=schedule,
        entries=[
            {
                "id": entry.pk,
                **entry_dict(time_of_day=time(10, 0), repeat_every_days=7, until_day=21),
            },
            entry_dict(
                instrument_code="GAD-7", repeat_every_days=None, until_day=None, offset_days=2
            ),
        ],
    )

    assert timeline(subject) == [
        ("PHQ-9", 99, datetime(2025, 2, 1, 7, 0, tzinfo=UTC), "missed"),
        ("PHQ-9", 0, datetime(2025, 3, 3, 7, 0, tzinfo=UTC), "completed"),
        ("GAD-7", 0, datetime(2025, 3, 5, 7, 0, tzinfo=UTC), "scheduled"),
        ("PHQ-9", 1, datetime(2025, 3, 10, 8, 0, tzinfo=UTC), "scheduled"),
        ("PHQ-9", 2, datetime(2025, 3, 17, 8, 0, tzinfo=UTC), "scheduled"),
        ("PHQ-9", 3, datetime(2025, 3, 24, 8, 0, tzinfo=UTC), "scheduled"),
    ]
    missed.refresh_from_db()
    assert missed.status == "missed"
    assert AuditEvent.objects.filter(object_id=str(schedule.pk), action="update").count() == 1


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_schedule_edit_retires_removed_entry_and_cancels_its_unopened_assessments():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    phq = ScheduleEntryFactory(schedule=schedule, **entry_dict())
    gad = ScheduleEntryFactory(schedule=schedule, **entry_dict(instrument_code="GAD-7"))
    subject = enrol(site, schedule)

    schedules.update_schedule(schedule=schedule, entries=[entry_dict()])  # PHQ-9 unchanged

    phq.refresh_from_db()
    gad.refresh_from_db()
    assert (phq.retired_at, gad.retired_at) == (None, datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    assert [(code, occ, status) for code, occ, _, status in timeline(subject)] == [
        ("GAD-7", 0, "open"),
        ("PHQ-9", 0, "open"),
        ("GAD-7", 1, "cancelled"),
        ("PHQ-9", 1, "scheduled"),
        ("GAD-7", 2, "cancelled"),
        ("PHQ-9", 2, "scheduled"),
    ]
    assert list(ScheduleEntry.objects.filter(schedule=schedule, retired_at=None)) == [phq]


def test_schedule_edit_with_unknown_entry_id_raises():
    schedule = ScheduleFactory()
    other = ScheduleEntryFactory()

    with pytest.raises(schedules.ScheduleEntryUnknown):
        schedules.update_schedule(schedule=schedule, entries=[{"id": other.pk, **entry_dict()}])


def test_create_schedule_default_replaces_the_sites_old_default():
    site = SiteFactory()
    old = ScheduleFactory(site=site, is_default=True)

    new = schedules.create_schedule(name="New", site=site, is_default=True, entries=[entry_dict()])

    old.refresh_from_db()
    assert (old.is_default, new.is_default) == (False, True)


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_withdraw_cancels_open_and_scheduled_keeps_completed():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, **entry_dict())
    subject = enrol(site, schedule)
    Assessment.objects.filter(subject=subject, occurrence=1).update(status="completed")

    enrolment.withdraw_subject(subject=subject, reason="moved away")

    subject.refresh_from_db()
    assert (subject.status, subject.withdrawn_at) == (
        "withdrawn",
        datetime(2025, 3, 3, 8, 0, tzinfo=UTC),
    )
    assert [status for *_, status in timeline(subject)] == ["cancelled", "completed", "cancelled"]
    event = AuditEvent.objects.get(action="withdraw")
    assert (event.reason, event.changes["cancelled_assessments"]) == ("moved away", 2)
    with pytest.raises(enrolment.AlreadyWithdrawn):
        enrolment.withdraw_subject(subject=subject, reason="again")
    assert assessments.materialise_assessments(subject=subject) == assessments.MaterialiseResult()


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_materialise_with_a_subject_read_before_its_withdrawal_revives_nothing():
    # A sweep loads the subject, then the withdrawal commits before it materialises: the
    # sweep must not bring the cancelled assessments back (the status is re-read under lock).
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, **entry_dict())
    subject = enrol(site, schedule)
    stale = Subject.objects.get(pk=subject.pk)
    enrolment.withdraw_subject(subject=subject, reason="moved away")

    result = assessments.materialise_assessments(subject=stale)

    assert result == assessments.MaterialiseResult()
    assert [status for *_, status in timeline(subject)] == ["cancelled"] * 3


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_schedule_edit_of_an_entrys_instrument_applies_to_its_unopened_assessments():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    entry = ScheduleEntryFactory(schedule=schedule, **entry_dict(instrument_code="GAD-7"))
    subject = enrol(site, schedule)

    schedules.update_schedule(
        schedule=schedule, entries=[{"id": entry.pk, **entry_dict(instrument_code="PHQ-9")}]
    )

    # The open baseline keeps what the subject may be answering; the later ones follow.
    assert [(code, occ, status) for code, occ, _, status in timeline(subject)] == [
        ("GAD-7", 0, "open"),
        ("PHQ-9", 1, "scheduled"),
        ("PHQ-9", 2, "scheduled"),
    ]


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_update_subject_retimes_unopened_assessments_and_audits_without_contact_values():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, **entry_dict())
    subject = enrol(site, schedule)

    enrolment.update_subject(
        subject=subject,
        fields={"timezone": "UTC", "language": "af"},
        contact={"email": "secret@example.org"},
    )

    assert [(occ, opens, status) for _, occ, opens, status in timeline(subject)] == [
        (0, datetime(2025, 3, 3, 7, 0, tzinfo=UTC), "open"),  # opened: untouched
        (1, datetime(2025, 3, 17, 9, 0, tzinfo=UTC), "scheduled"),
        (2, datetime(2025, 3, 31, 9, 0, tzinfo=UTC), "scheduled"),
    ]
    event = AuditEvent.objects.get(action="update")
    assert event.changes == {
        "timezone": {"old": "Africa/Johannesburg", "new": "UTC"},
        "language": {"old": "en", "new": "af"},
        "contact_email": "changed",
    }
    subject.refresh_from_db()
    assert subject.contact_email == "secret@example.org"


def test_open_and_close_sweeps_are_idempotent():
    subject = SubjectFactory()
    t0 = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
    due = AssessmentFactory(subject=subject, opens_at=t0, status="scheduled")
    later = AssessmentFactory(
        subject=subject, opens_at=t0 + dt.timedelta(days=5), status="scheduled"
    )
    closing = AssessmentFactory(subject=subject, opens_at=t0 - dt.timedelta(days=3), status="open")

    assert assessments.open_due_assessments(now=t0 + dt.timedelta(minutes=1)) == 1
    assert assessments.open_due_assessments(now=t0 + dt.timedelta(minutes=1)) == 0
    assert assessments.close_missed_assessments(now=t0 + dt.timedelta(minutes=1)) == 1
    assert assessments.close_missed_assessments(now=t0 + dt.timedelta(minutes=1)) == 0

    statuses = {a.pk: a.status for a in Assessment.objects.all()}
    assert statuses == {due.pk: "open", later.pk: "scheduled", closing.pk: "missed"}


def test_open_sweep_skips_withdrawn_subjects():
    subject = SubjectFactory(status="withdrawn")
    t0 = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
    AssessmentFactory(subject=subject, opens_at=t0, status="scheduled")

    assert assessments.open_due_assessments(now=t0) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_enrolments_one_wins_the_other_is_duplicate():
    import threading

    from django.db import connection as default_connection

    site = SiteFactory()
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt():
        try:
            barrier.wait(5)
            enrol(site, study_id="RACE-1")
            outcomes.append("created")
        except enrolment.DuplicateStudyId:
            outcomes.append("duplicate")
        finally:
            default_connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(outcomes) == ["created", "duplicate"]
    assert Subject.objects.filter(study_id="RACE-1").count() == 1
