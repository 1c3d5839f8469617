"""Schedules: admins configure them; the preview computes occurrences; edits follow the rules."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from screening.models import Assessment, AuditEvent, Schedule
from tests.factories import (
    PHQ9_ZERO,
    MembershipFactory,
    ScheduleEntryFactory,
    ScheduleFactory,
    SiteFactory,
    SubjectFactory,
    staff_client,
    subject_client,
)

pytestmark = pytest.mark.django_db

ENTRY = {
    "instrument": "PHQ-9",
    "offset_days": 0,
    "repeat_every_days": 14,
    "until_day": 168,
    "time_of_day": "09:00",
    "window_hours": 72,
    "reminder_hours": [24, 48],
}


@pytest.fixture
def site():
    return SiteFactory(code="za", timezone="Africa/Johannesburg")


def test_create_schedule_returns_entries_and_audits(admin_client_api, site):
    response = admin_client_api.post(
        "/api/v1/schedules/",
        {"name": "Standard", "site": "za", "is_default": True, "entries": [ENTRY]},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    schedule = Schedule.objects.get()
    entry = schedule.entries.get()
    assert {k: body[k] for k in ("id", "name", "site", "is_default", "entries")} == {
        "id": str(schedule.pk),
        "name": "Standard",
        "site": "za",
        "is_default": True,
        "entries": [{"id": str(entry.pk), **ENTRY}],
    }
    assert AuditEvent.objects.filter(object_id=str(schedule.pk), action="create").count() == 1


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"instrument": "XYZ"}, "entries.0.instrument"),
        ({"repeat_every_days": 0}, "entries.0.repeat_every_days"),
        ({"until_day": None}, "entries.0.until_day"),
        ({"until_day": 99999}, "entries.0.until_day"),
        ({"offset_days": 10, "until_day": 5}, "entries.0.until_day"),
        ({"time_of_day": "25:00"}, "entries.0.time_of_day"),
        ({"window_hours": 0}, "entries.0.window_hours"),
        ({"reminder_hours": [72]}, "entries.0.reminder_hours"),
        ({"reminder_hours": [24, 24]}, "entries.0.reminder_hours"),
        ({"reminder_hours": "24"}, "entries.0.reminder_hours"),
    ],
)
def test_create_schedule_invalid_entry_is_400(admin_client_api, site, entry, field):
    response = admin_client_api.post(
        "/api/v1/schedules/",
        {"name": "S", "site": "za", "entries": [{**ENTRY, **entry}]},
        format="json",
    )

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Schedule.objects.count() == 0


def test_create_schedule_unknown_site_or_no_entries_is_400(admin_client_api, site):
    no_site = admin_client_api.post(
        "/api/v1/schedules/", {"name": "S", "site": "nope", "entries": [ENTRY]}, format="json"
    )
    empty = admin_client_api.post(
        "/api/v1/schedules/", {"name": "S", "site": "za", "entries": []}, format="json"
    )

    assert (no_site.status_code, empty.status_code) == (400, 400)


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_patch_entries_keeps_unchanged_ids_retires_removed_and_spares_opened(
    admin_client_api, site
):
    created = admin_client_api.post(
        "/api/v1/schedules/",
        {
            "name": "S",
            "site": "za",
            "entries": [ENTRY, {**ENTRY, "instrument": "GAD-7"}],
        },
        format="json",
    ).json()
    phq_id = next(e["id"] for e in created["entries"] if e["instrument"] == "PHQ-9")
    subject = SubjectFactory(site=site, schedule_id=created["id"], treatment_start=date(2025, 3, 3))
    from screening.services.assessments import materialise_assessments

    materialise_assessments(subject=subject)
    opened_gad = Assessment.objects.get(subject=subject, instrument_code="GAD-7", occurrence=0)
    assert opened_gad.status == "open"

    response = admin_client_api.patch(
        f"/api/v1/schedules/{created['id']}/",
        {"entries": [ENTRY, {**ENTRY, "instrument": "NEURO-SX", "repeat_every_days": None}]},
        format="json",
    )

    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [(e["instrument"], e["id"] == phq_id) for e in entries] == [
        ("NEURO-SX", False),
        ("PHQ-9", True),
    ]
    counts = {}
    for a in Assessment.objects.filter(subject=subject):
        counts[(a.instrument_code, a.status)] = counts.get((a.instrument_code, a.status), 0) + 1
    assert counts == {
        ("PHQ-9", "open"): 1,
        ("PHQ-9", "scheduled"): 12,
        ("GAD-7", "open"): 1,  # opened before the edit: untouched
        ("GAD-7", "cancelled"): 12,
        ("NEURO-SX", "open"): 1,
    }


def test_patch_with_foreign_entry_id_is_400(admin_client_api, site):
    schedule = ScheduleFactory(site=site)
    foreign = ScheduleEntryFactory()

    response = admin_client_api.patch(
        f"/api/v1/schedules/{schedule.pk}/",
        {"entries": [{**ENTRY, "id": str(foreign.pk)}]},
        format="json",
    )

    assert response.status_code == 400


def test_preview_computes_local_times(admin_client_api, site):
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=7, until_day=7)

    response = admin_client_api.get(
        f"/api/v1/schedules/{schedule.pk}/preview/?treatment_start=2025-03-03&timezone=America/New_York"
    )

    assert response.status_code == 200
    assert [
        (o["occurrence"], o["local_date"], o["opens_at"], o["closes_at"])
        for o in response.json()["occurrences"]
    ] == [
        (0, "2025-03-03", "2025-03-03T14:00:00Z", "2025-03-06T14:00:00Z"),
        (1, "2025-03-10", "2025-03-10T13:00:00Z", "2025-03-13T13:00:00Z"),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?treatment_start=2025-03-03",
        "?timezone=UTC",
        "?treatment_start=nope&timezone=UTC",
        "?treatment_start=2025-03-03&timezone=Nope/Nope",
        "?treatment_start=0001-01-01&timezone=UTC",
    ],
)
def test_preview_missing_or_invalid_params_is_400(admin_client_api, site, query):
    schedule = ScheduleFactory(site=site)

    response = admin_client_api.get(f"/api/v1/schedules/{schedule.pk}/preview/{query}")

    assert response.status_code == 400


def test_clinician_reads_own_site_schedules_only():
    mine, theirs = SiteFactory(), SiteFactory()
    own = ScheduleFactory(site=mine)
    other = ScheduleFactory(site=theirs)
    client = staff_client(MembershipFactory(site=mine).user)

    listed = client.get("/api/v1/schedules/").json()["results"]

    assert [s["id"] for s in listed] == [str(own.pk)]
    assert client.get(f"/api/v1/schedules/{other.pk}/").status_code == 404
    assert client.get(f"/api/v1/schedules/{uuid.uuid4()}/").status_code == 404
    assert client.patch(f"/api/v1/schedules/{own.pk}/", {"name": "x"}).status_code == 403


@pytest.mark.parametrize("rows", [1, 8])
def test_schedule_list_query_count_is_constant(admin_client_api, rows, django_assert_num_queries):
    for _ in range(rows):
        entry = ScheduleEntryFactory()
        ScheduleEntryFactory(schedule=entry.schedule, instrument_code="GAD-7")

    # token + last_used + page (site joined) + prefetch of current entries
    with django_assert_num_queries(4):
        response = admin_client_api.get("/api/v1/schedules/")

    assert [len(s["entries"]) for s in response.json()["results"]] == [2] * rows


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_patch_without_ids_after_a_completed_phq9_duplicates_nothing(admin_client_api, site):
    # The README's edit: the same entries listed again without ids, PHQ-9 now every 7 days and
    # its window shortened to 48 h. The subject already answered the baseline PHQ-9.
    created = admin_client_api.post(
        "/api/v1/schedules/",
        {"name": "S", "site": "za", "entries": [ENTRY, {**ENTRY, "instrument": "GAD-7"}]},
        format="json",
    ).json()
    ids = {e["instrument"]: e["id"] for e in created["entries"]}
    subject = SubjectFactory(site=site, schedule_id=created["id"], treatment_start=date(2025, 3, 3))
    from screening.services.assessments import materialise_assessments

    materialise_assessments(subject=subject)
    baseline = Assessment.objects.get(subject=subject, instrument_code="PHQ-9", occurrence=0)
    client, _ = subject_client(subject)
    submitted = client.post(
        f"/api/v1/me/assessments/{baseline.pk}/response/",
        {"answers": PHQ9_ZERO},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert submitted.status_code == 201
    baseline.refresh_from_db()
    before = (baseline.status, baseline.opens_at, baseline.closes_at, baseline.schedule_entry_id)
    edit = {
        "entries": [
            {**ENTRY, "repeat_every_days": 7, "window_hours": 48, "reminder_hours": [24]},
            {**ENTRY, "instrument": "GAD-7"},
        ]
    }

    preview = admin_client_api.post(
        f"/api/v1/schedules/{created['id']}/edit-preview/", edit, format="json"
    )
    assert preview.status_code == 200
    assert Assessment.objects.filter(subject=subject).count() == 26  # nothing saved yet
    response = admin_client_api.patch(f"/api/v1/schedules/{created['id']}/", edit, format="json")

    assert response.status_code == 200
    # The entries kept their ids: matched by instrument and first day.
    assert {e["instrument"]: e["id"] for e in response.json()["entries"]} == ids
    phq = Assessment.objects.filter(subject=subject, instrument_code="PHQ-9")
    assert phq.filter(occurrence=0).count() == 1  # no second baseline
    assert (
        phq.filter(
            status__in=["open", "scheduled", "completed"],
            opens_at__lt=datetime(2025, 3, 10, tzinfo=UTC),
        ).count()
        == 1
    )
    baseline.refresh_from_db()
    assert (
        baseline.status,
        baseline.opens_at,
        baseline.closes_at,
        baseline.schedule_entry_id,
    ) == before
    assert before[0] == "completed" and before[2] - before[1] == timedelta(hours=72)
    future = list(phq.filter(occurrence__gte=1).order_by("occurrence"))
    # Every 7 days to day 168 (24 repeats), 48 h windows; the completed baseline is as it was.
    assert [(a.occurrence, a.status) for a in future] == [(n, "scheduled") for n in range(1, 25)]
    assert future[0].opens_at == datetime(2025, 3, 10, 7, 0, tzinfo=UTC)
    assert {a.closes_at - a.opens_at for a in future} == {timedelta(hours=48)}
    assert Assessment.objects.filter(subject=subject, instrument_code="GAD-7").count() == 13
    assert preview.json() == {
        "changes": {
            "entries": {
                "added": [],
                "changed": [
                    {
                        "old": {**audit_entry(ids["PHQ-9"])},
                        "new": {
                            **audit_entry(ids["PHQ-9"]),
                            "repeat_every_days": 7,
                            "window_hours": 48,
                            "reminder_hours": [24],
                        },
                    }
                ],
                "retired": [],
            }
        },
        "entries_kept": 1,
        "subjects": 1,
        "assessments_created": 12,
        "assessments_retimed": 12,
        "assessments_cancelled": 0,
    }


def audit_entry(entry_id):
    return {
        "id": entry_id,
        "instrument_code": "PHQ-9",
        "offset_days": 0,
        "repeat_every_days": 14,
        "until_day": 168,
        "time_of_day": "09:00:00",
        "window_hours": 72,
        "reminder_hours": [24, 48],
    }


@time_machine.travel(datetime(2025, 3, 3, 8, 0, tzinfo=UTC), tick=False)
def test_new_entry_does_not_re_ask_an_answered_instrument_in_the_same_window(
    admin_client_api, site
):
    # PHQ-9 moved from day 0 to day 1 (a different first day: a new entry). Its first window
    # overlaps the answered baseline, so it is not asked again; the later ones are.
    created = admin_client_api.post(
        "/api/v1/schedules/", {"name": "S", "site": "za", "entries": [ENTRY]}, format="json"
    ).json()
    subject = SubjectFactory(site=site, schedule_id=created["id"], treatment_start=date(2025, 3, 3))
    from screening.services.assessments import materialise_assessments

    materialise_assessments(subject=subject)
    Assessment.objects.filter(subject=subject, occurrence=0).update(status="completed")

    response = admin_client_api.patch(
        f"/api/v1/schedules/{created['id']}/",
        {"entries": [{**ENTRY, "offset_days": 1}]},
        format="json",
    )

    assert response.status_code == 200
    live = Assessment.objects.filter(subject=subject).exclude(status="cancelled")
    assert [(a.status, a.opens_at.date()) for a in live.order_by("opens_at")[:3]] == [
        ("completed", date(2025, 3, 3)),
        ("scheduled", date(2025, 3, 18)),
        ("scheduled", date(2025, 4, 1)),
    ]


def test_edit_preview_is_admin_only_and_validates(admin_client_api, site):
    schedule = ScheduleFactory(site=site)
    clinician = staff_client(MembershipFactory(site=site).user)

    denied = clinician.post(f"/api/v1/schedules/{schedule.pk}/edit-preview/", {}, format="json")
    invalid = admin_client_api.post(
        f"/api/v1/schedules/{schedule.pk}/edit-preview/",
        {"entries": [{**ENTRY, "until_day": None}]},
        format="json",
    )

    assert denied.status_code == 403
    assert invalid.status_code == 400
    assert "entries.0.until_day" in invalid.json()["error"]["fields"]
