"""Schedule use-cases: create a schedule and edit its entries (audited, atomic)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from screening.audit import audit_value, record_audit
from screening.models import (
    Assessment,
    AuditEvent,
    Schedule,
    ScheduleEntry,
    Site,
)
from screening.services.assessments import materialise_schedule_subjects

ENTRY_FIELDS = (
    "instrument_code",
    "offset_days",
    "repeat_every_days",
    "until_day",
    "time_of_day",
    "window_hours",
    "reminder_hours",
)


def _entry_values(entry) -> tuple:
    if isinstance(entry, dict):
        return tuple(entry.get(field) for field in ENTRY_FIELDS)
    return tuple(getattr(entry, field) for field in ENTRY_FIELDS)


def _entry_audit(entry: ScheduleEntry) -> dict:
    return {"id": str(entry.pk), **{f: audit_value(getattr(entry, f)) for f in ENTRY_FIELDS}}


def _make_default(schedule: Schedule) -> None:
    # One default per site: the new default replaces the old one. The site row is locked so that
    # two concurrent changes of the default queue up instead of colliding on the constraint.
    # (a schedule without a site: site_id None is a valid lookup, IS NULL)
    Site.objects.select_for_update().filter(pk=schedule.site_id).first()  # type: ignore[misc]
    Schedule.objects.filter(site_id=schedule.site_id, is_default=True).exclude(  # type: ignore[misc]
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
