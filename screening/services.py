"""Use-cases that write: enrolment, regimen changes, withdrawal, schedules and assessments.

Every function is atomic and takes keyword arguments only. Changes of clinical data are audited
in the same transaction; logs carry study ids and object ids, never contact details.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import schedules as timing
from .audit import record_audit
from .models import (
    Assessment,
    AuditEvent,
    RegimenChange,
    Schedule,
    ScheduleEntry,
    Site,
    Subject,
)
from .outbox import request_evaluation

logger = logging.getLogger(__name__)

# Subject fields that PATCH may change, and whose old/new values the audit trail records.
SUBJECT_FIELDS = (
    "study_id",
    "timezone",
    "language",
    "treatment_start",
    "sex",
    "year_of_birth",
    "hiv_positive",
    "renal_impairment",
)
# Changing one of these re-times the subject's assessments that have not opened yet.
TIMING_FIELDS = {"timezone", "treatment_start", "schedule"}
ENTRY_FIELDS = (
    "instrument_code",
    "offset_days",
    "repeat_every_days",
    "until_day",
    "time_of_day",
    "window_hours",
    "reminder_hours",
)
REGIMEN_FIELDS = (
    "drug",
    "dose_mg_per_day",
    "pyridoxine_mg_per_day",
    "isoniazid",
    "ethionamide",
    "alcohol_use",
)


class DuplicateStudyId(Exception):
    """The study id is already used at the site."""


class AlreadyWithdrawn(Exception):
    """The subject was withdrawn before."""


@dataclass(frozen=True)
class MaterialiseResult:
    created: int = 0
    retimed: int = 0
    cancelled: int = 0


def _jsonable(value):
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value.pk)
    return value


# --- Assessments ----------------------------------------------------------------------------------


def entry_spec(entry: ScheduleEntry) -> timing.EntrySpec:
    """Return the pure timing of a schedule entry."""
    return timing.EntrySpec(
        key=entry.pk,
        instrument_code=entry.instrument_code,
        offset_days=entry.offset_days,
        repeat_every_days=entry.repeat_every_days,
        until_day=entry.until_day,
        time_of_day=entry.time_of_day,
        window_hours=entry.window_hours,
    )


def _status_at(opens_at: datetime, now: datetime) -> str:
    return Assessment.Status.OPEN if opens_at <= now else Assessment.Status.SCHEDULED


@transaction.atomic
def materialise_assessments(*, subject: Subject, now: datetime | None = None) -> MaterialiseResult:
    """Bring the subject's assessments in line with its schedule; running it again changes nothing.

    Creates the missing occurrences (except those whose window has already closed; one whose
    window is open now is created open), re-times assessments that have not opened yet, and
    cancels not-yet-opened assessments that the schedule no longer has. Opened, completed,
    missed assessments are never touched. Withdrawn subjects get nothing.
    """
    now = now or timezone.now()
    # Lock and re-read the subject: a concurrent withdrawal, edit or sweep of the same subject
    # waits, and a caller's stale copy (a sweep that loaded it before a withdrawal committed)
    # cannot bring cancelled assessments back.
    subject = Subject.objects.select_for_update().filter(pk=subject.pk).first()
    if subject is None or subject.status != Subject.Status.ACTIVE:
        return MaterialiseResult()
    entries = []
    if subject.schedule_id is not None:
        entries = [
            entry_spec(e)
            for e in ScheduleEntry.objects.filter(
                schedule_id=subject.schedule_id, retired_at__isnull=True
            )
        ]
    wanted = {
        (o.entry_key, o.occurrence): o
        for o in timing.occurrences(
            entries, treatment_start=subject.treatment_start, tz_name=subject.timezone
        )
    }
    existing = {
        (a.schedule_entry_id, a.occurrence): a
        for a in Assessment.objects.filter(subject=subject).only(
            "id",
            "schedule_entry_id",
            "occurrence",
            "instrument_code",
            "opens_at",
            "closes_at",
            "status",
        )
    }
    to_create, retimed, to_cancel = [], 0, []
    for key, occ in wanted.items():
        current = existing.get(key)
        window_open_or_future = occ.closes_at > now
        if current is None:
            if window_open_or_future:
                to_create.append(
                    Assessment(
                        subject=subject,
                        schedule_entry_id=occ.entry_key,
                        occurrence=occ.occurrence,
                        instrument_code=occ.instrument_code,
                        opens_at=occ.opens_at,
                        closes_at=occ.closes_at,
                        status=_status_at(occ.opens_at, now),
                    )
                )
            continue
        revivable = current.status == Assessment.Status.CANCELLED and window_open_or_future
        if current.status != Assessment.Status.SCHEDULED and not revivable:
            continue  # opened, answered or missed: history, never re-timed
        if not window_open_or_future:
            if current.status == Assessment.Status.SCHEDULED:
                to_cancel.append(current.pk)
            continue
        status = _status_at(occ.opens_at, now)
        wanted_values = (occ.instrument_code, occ.opens_at, occ.closes_at, status)
        if (current.instrument_code, current.opens_at, current.closes_at, current.status) != (
            wanted_values
        ):
            # Conditional on the status read, so a concurrent submission or sweep wins. An edit
            # of the entry's instrument applies too: the assessment has not opened yet.
            retimed += Assessment.objects.filter(pk=current.pk, status=current.status).update(
                instrument_code=occ.instrument_code,
                opens_at=occ.opens_at,
                closes_at=occ.closes_at,
                status=status,
                updated_at=now,
            )
    to_cancel += [
        a.pk
        for key, a in existing.items()
        if key not in wanted and a.status == Assessment.Status.SCHEDULED
    ]
    # A concurrent materialisation may have created some of them: the constraint keeps one.
    Assessment.objects.bulk_create(to_create, ignore_conflicts=True)
    cancelled = 0
    if to_cancel:
        cancelled = Assessment.objects.filter(
            pk__in=to_cancel, status=Assessment.Status.SCHEDULED
        ).update(status=Assessment.Status.CANCELLED, updated_at=now)
    if to_create or retimed or cancelled:
        logger.info(
            "assessments materialised",
            extra={
                "subject_id": str(subject.pk),
                "study_id": subject.study_id,
                "created_count": len(to_create),
                "retimed": retimed,
                "cancelled": cancelled,
            },
        )
    return MaterialiseResult(created=len(to_create), retimed=retimed, cancelled=cancelled)


def materialise_schedule_subjects(*, schedule: Schedule, now: datetime | None = None) -> int:
    """Materialise the assessments of every active subject on the schedule; return how many."""
    count = 0
    for subject in Subject.objects.filter(schedule=schedule, status=Subject.Status.ACTIVE):
        materialise_assessments(subject=subject, now=now)
        count += 1
    return count


def open_due_assessments(*, now: datetime | None = None) -> int:
    """Open scheduled assessments whose window has started and not ended; return how many."""
    now = now or timezone.now()
    return Assessment.objects.filter(
        status=Assessment.Status.SCHEDULED,
        opens_at__lte=now,
        closes_at__gt=now,
        subject__status=Subject.Status.ACTIVE,
    ).update(status=Assessment.Status.OPEN, updated_at=now)


def close_missed_assessments(*, now: datetime | None = None) -> int:
    """Mark unanswered assessments whose window has closed as missed; return how many."""
    now = now or timezone.now()
    return Assessment.objects.filter(
        status__in=[Assessment.Status.SCHEDULED, Assessment.Status.OPEN],
        closes_at__lte=now,
        response__isnull=True,
    ).update(status=Assessment.Status.MISSED, updated_at=now)


# --- Subjects -------------------------------------------------------------------------------------


def subject_local_midnight(subject: Subject, day: date) -> datetime:
    """Return 00:00 of the day in the subject's time zone, as a UTC instant."""
    return timing.local_to_utc(day, time(0, 0), subject.timezone)


@transaction.atomic
def enrol_subject(
    *,
    site: Site,
    study_id: str,
    treatment_start: date,
    timezone_name: str,
    language: str = "en",
    schedule: Schedule | None = None,
    sex: str = "",
    year_of_birth: int | None = None,
    hiv_positive: bool | None = None,
    renal_impairment: bool | None = None,
    contact_email: str = "",
    contact_phone: str = "",
    regimen: dict | None = None,
    actor=None,
    now: datetime | None = None,
) -> Subject:
    """Enrol a subject: create it, its first regimen and its assessments, all audited.

    The site's default schedule applies when none is given. Raises DuplicateStudyId when the
    study id is taken at the site (also when a concurrent request took it first).
    """
    now = now or timezone.now()
    if schedule is None:
        schedule = Schedule.objects.filter(site=site, is_default=True).first()
    subject = Subject(
        site=site,
        study_id=study_id,
        treatment_start=treatment_start,
        timezone=timezone_name,
        language=language,
        schedule=schedule,
        sex=sex,
        year_of_birth=year_of_birth,
        hiv_positive=hiv_positive,
        renal_impairment=renal_impairment,
    )
    subject.contact_email = contact_email
    subject.contact_phone = contact_phone
    try:
        with transaction.atomic():
            subject.save(force_insert=True)
    except IntegrityError as exc:
        raise DuplicateStudyId(study_id) from exc
    changes = {field: _jsonable(getattr(subject, field)) for field in SUBJECT_FIELDS}
    changes["site"] = site.code
    changes["schedule"] = _jsonable(schedule)
    if contact_email:
        changes["contact_email"] = "set"
    if contact_phone:
        changes["contact_phone"] = "set"
    record_audit(
        action=AuditEvent.Action.CREATE, obj=subject, actor=actor, subject=subject, changes=changes
    )
    if regimen:
        record_regimen_change(
            subject=subject,
            effective_from=subject_local_midnight(subject, treatment_start),
            actor=actor,
            **regimen,
        )
    materialise_assessments(subject=subject, now=now)
    logger.info(
        "subject enrolled", extra={"subject_id": str(subject.pk), "study_id": subject.study_id}
    )
    return subject


_UNSET = object()


@transaction.atomic
def update_subject(
    *,
    subject: Subject,
    fields: dict,
    contact: dict | None = None,
    schedule=_UNSET,
    actor=None,
    now: datetime | None = None,
) -> Subject:
    """Change a subject's details; audit old and new values (contact details only as "changed").

    A change of time zone, treatment start or schedule re-times the assessments not opened yet.
    Raises DuplicateStudyId when a new study id is taken at the site.
    """
    now = now or timezone.now()
    subject = Subject.objects.select_for_update().get(pk=subject.pk)
    changes: dict = {}
    update_fields = []
    for field, value in fields.items():
        if field not in SUBJECT_FIELDS:
            raise ValueError(f"{field} cannot be changed")
        old = getattr(subject, field)
        if old != value:
            changes[field] = {"old": _jsonable(old), "new": _jsonable(value)}
            setattr(subject, field, value)
            update_fields.append(field)
    if schedule is not _UNSET and subject.schedule_id != (schedule.pk if schedule else None):
        changes["schedule"] = {"old": _jsonable(subject.schedule), "new": _jsonable(schedule)}
        subject.schedule = schedule
        update_fields.append("schedule")
    for key in ("email", "phone"):
        if contact is None or key not in contact:
            continue
        attribute = f"contact_{key}"
        new = contact[key] or ""
        if getattr(subject, attribute) != new:
            setattr(subject, attribute, new)
            changes[attribute] = "changed" if new else "removed"
            update_fields.append(f"{attribute}_encrypted")
    if not changes:
        return subject
    try:
        with transaction.atomic():
            subject.save(update_fields=[*update_fields, "updated_at"])
    except IntegrityError as exc:
        raise DuplicateStudyId(subject.study_id) from exc
    record_audit(
        action=AuditEvent.Action.UPDATE, obj=subject, actor=actor, subject=subject, changes=changes
    )
    if TIMING_FIELDS & set(changes):
        materialise_assessments(subject=subject, now=now)
    return subject


@transaction.atomic
def withdraw_subject(
    *, subject: Subject, reason: str, actor=None, now: datetime | None = None
) -> Subject:
    """Withdraw a subject: cancel its scheduled and open assessments, keep all its data."""
    now = now or timezone.now()
    subject = Subject.objects.select_for_update().get(pk=subject.pk)
    if subject.status == Subject.Status.WITHDRAWN:
        raise AlreadyWithdrawn(subject.study_id)
    subject.status = Subject.Status.WITHDRAWN
    subject.withdrawn_at = now
    subject.save(update_fields=["status", "withdrawn_at", "updated_at"])
    cancelled = Assessment.objects.filter(
        subject=subject, status__in=[Assessment.Status.SCHEDULED, Assessment.Status.OPEN]
    ).update(status=Assessment.Status.CANCELLED, updated_at=now)
    record_audit(
        action=AuditEvent.Action.WITHDRAW,
        obj=subject,
        actor=actor,
        subject=subject,
        changes={
            "status": {"old": Subject.Status.ACTIVE, "new": Subject.Status.WITHDRAWN},
            "cancelled_assessments": cancelled,
        },
        reason=reason,
    )
    logger.info(
        "subject withdrawn",
        extra={"subject_id": str(subject.pk), "study_id": subject.study_id, "cancelled": cancelled},
    )
    return subject


@transaction.atomic
def record_regimen_change(
    *,
    subject: Subject,
    effective_from: datetime,
    drug: str,
    dose_mg_per_day: int,
    pyridoxine_mg_per_day: int | None = None,
    isoniazid: bool = False,
    ethionamide: bool = False,
    alcohol_use: bool = False,
    actor=None,
) -> RegimenChange:
    """Record a regimen change, audit it and queue the subject's evaluation in this transaction."""
    change = RegimenChange.objects.create(
        subject=subject,
        effective_from=effective_from,
        drug=drug,
        dose_mg_per_day=dose_mg_per_day,
        pyridoxine_mg_per_day=pyridoxine_mg_per_day,
        isoniazid=isoniazid,
        ethionamide=ethionamide,
        alcohol_use=alcohol_use,
        entered_by=actor if actor is not None and actor.is_authenticated else None,
    )
    record_audit(
        action=AuditEvent.Action.CREATE,
        obj=change,
        actor=actor,
        subject=subject,
        changes={
            "effective_from": effective_from.isoformat(),
            **{field: getattr(change, field) for field in REGIMEN_FIELDS},
        },
    )
    request_evaluation(subject=subject, reason="regimen", source_id=str(change.pk))
    return change


# --- Schedules ------------------------------------------------------------------------------------


def _entry_values(entry) -> tuple:
    if isinstance(entry, dict):
        return tuple(entry.get(field) for field in ENTRY_FIELDS)
    return tuple(getattr(entry, field) for field in ENTRY_FIELDS)


def _entry_audit(entry: ScheduleEntry) -> dict:
    return {"id": str(entry.pk), **{f: _jsonable(getattr(entry, f)) for f in ENTRY_FIELDS}}


def _make_default(schedule: Schedule) -> None:
    # One default per site: the new default replaces the old one. The site row is locked so that
    # two concurrent changes of the default queue up instead of colliding on the constraint.
    Site.objects.select_for_update().filter(pk=schedule.site_id).first()
    Schedule.objects.filter(site_id=schedule.site_id, is_default=True).exclude(
        pk=schedule.pk
    ).update(is_default=False, updated_at=timezone.now())


@transaction.atomic
def create_schedule(
    *, name: str, site: Site, is_default: bool = False, entries: list[dict], actor=None
) -> Schedule:
    """Create a schedule with its entries (a new default replaces the site's old default)."""
    schedule = Schedule(name=name, site=site, is_default=False)
    schedule.save()
    if is_default:
        _make_default(schedule)
        schedule.is_default = True
        schedule.save(update_fields=["is_default", "updated_at"])
    created = ScheduleEntry.objects.bulk_create(
        [ScheduleEntry(schedule=schedule, **entry) for entry in entries]
    )
    record_audit(
        action=AuditEvent.Action.CREATE,
        obj=schedule,
        actor=actor,
        changes={
            "name": name,
            "site": site.code,
            "is_default": is_default,
            "entries": [_entry_audit(e) for e in created],
        },
    )
    return schedule


@transaction.atomic
def update_schedule(
    *,
    schedule: Schedule,
    name: str | None = None,
    is_default: bool | None = None,
    entries: list[dict] | None = None,
    actor=None,
    now: datetime | None = None,
) -> Schedule:
    """Change a schedule; with entries, replace its entry list; audit the change.

    An entry with the ``id`` of a current entry changes that entry; an entry without id that
    equals a current entry keeps that entry (and its id); other entries are new; current entries
    not listed are retired. Only assessments that have not opened yet follow: they are re-timed,
    created or cancelled for every active subject on the schedule. Opened, answered and missed
    assessments are untouched.
    """
    now = now or timezone.now()
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    changes: dict = {}
    if name is not None and name != schedule.name:
        changes["name"] = {"old": schedule.name, "new": name}
        schedule.name = name
    if is_default is not None and is_default != schedule.is_default:
        changes["is_default"] = {"old": schedule.is_default, "new": is_default}
        if is_default:
            _make_default(schedule)
        schedule.is_default = is_default
    if changes:
        schedule.save(update_fields=["name", "is_default", "updated_at"])
    timing_changed = False
    if entries is not None:
        current = {e.pk: e for e in schedule.entries.filter(retired_at__isnull=True)}
        kept: set = set()
        added, edited = [], []
        pending = []
        for entry in entries:
            entry = dict(entry)
            entry_id = entry.pop("id", None)
            if entry_id is not None:
                existing = current.get(entry_id)
                if existing is None or entry_id in kept:
                    raise ScheduleEntryUnknown(entry_id)
                kept.add(entry_id)
                if _entry_values(existing) != _entry_values(entry):
                    before = _entry_audit(existing)
                    for field in ENTRY_FIELDS:
                        setattr(existing, field, entry[field])
                    existing.save(update_fields=list(ENTRY_FIELDS))
                    edited.append({"old": before, "new": _entry_audit(existing)})
            else:
                pending.append(entry)
        for entry in pending:
            same = next(
                (
                    e
                    for pk, e in current.items()
                    if pk not in kept and _entry_values(e) == _entry_values(entry)
                ),
                None,
            )
            if same is not None:
                kept.add(same.pk)
            else:
                added.append(ScheduleEntry(schedule=schedule, **entry))
        retired = [e for pk, e in current.items() if pk not in kept]
        if retired:
            ScheduleEntry.objects.filter(pk__in=[e.pk for e in retired]).update(retired_at=now)
            Assessment.objects.filter(
                schedule_entry__in=retired, status=Assessment.Status.SCHEDULED
            ).update(status=Assessment.Status.CANCELLED, updated_at=now)
        ScheduleEntry.objects.bulk_create(added)
        if added or edited or retired:
            timing_changed = True
            changes["entries"] = {
                "added": [_entry_audit(e) for e in added],
                "changed": edited,
                "retired": [str(e.pk) for e in retired],
            }
    if changes:
        record_audit(action=AuditEvent.Action.UPDATE, obj=schedule, actor=actor, changes=changes)
    if timing_changed:
        materialise_schedule_subjects(schedule=schedule, now=now)
    return schedule


class ScheduleEntryUnknown(Exception):
    """An entry id in an edit is not a current entry of the schedule (or is listed twice)."""
