"""Schedule use-cases: create a schedule and edit its entries (audited, atomic)."""

from __future__ import annotations

from dataclasses import dataclass, field
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
from screening.services.assessments import MaterialiseResult, materialise_schedule_subjects

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


@dataclass
class ScheduleEdit:
    """What an edit of a schedule changes (or, previewed, would change)."""

    changes: dict = field(default_factory=dict)
    kept: int = 0
    subjects: int = 0
    assessments: MaterialiseResult = field(default_factory=MaterialiseResult)


def _match(current: dict, kept: set, entry: dict):
    """Return the unkept current entry an entry without id stands for, or None (a new entry).

    First an identical entry, then one of the same instrument and first day (offset_days): an
    entry listed again without its id with a changed repeat, window or time is an edit of that
    entry, never a new one, so its assessments keep their history.
    """
    free = [e for pk, e in current.items() if pk not in kept]
    same = next((e for e in free if _entry_values(e) == _entry_values(entry)), None)
    if same is not None:
        return same
    return next(
        (
            e
            for e in free
            if (e.instrument_code, e.offset_days)
            == (entry["instrument_code"], entry["offset_days"])
        ),
        None,
    )


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

    Entries are matched to the current ones: by ``id`` when given; without id, to a current
    entry with the same values, else to one of the same instrument and ``offset_days`` (which is
    then changed); other entries are new; current entries not listed are retired. Only
    assessments that have not opened yet follow: they are re-timed, created or cancelled for
    every active subject on the schedule. Opened, answered and missed assessments are untouched,
    and a new entry never re-asks an instrument whose open or answered assessment covers the
    same time.
    """
    return apply_schedule_edit(
        schedule=schedule, name=name, is_default=is_default, entries=entries, actor=actor, now=now
    )[0]


class _Preview(Exception):
    def __init__(self, edit: ScheduleEdit):
        self.edit = edit


def preview_schedule_edit(
    *,
    schedule: Schedule,
    name: str | None = None,
    is_default: bool | None = None,
    entries: list[dict] | None = None,
    now: datetime | None = None,
) -> ScheduleEdit:
    """Return what update_schedule would change, saving nothing (the edit is rolled back)."""
    try:
        with transaction.atomic():
            _, edit = apply_schedule_edit(
                schedule=schedule,
                name=name,
                is_default=is_default,
                entries=entries,
                now=now,
                preview=True,
            )
            raise _Preview(edit)
    except _Preview as done:
        return done.edit


@transaction.atomic
def apply_schedule_edit(
    *,
    schedule: Schedule,
    name: str | None = None,
    is_default: bool | None = None,
    entries: list[dict] | None = None,
    actor=None,
    now: datetime | None = None,
    preview: bool = False,
) -> tuple[Schedule, ScheduleEdit]:
    """Apply an edit (see update_schedule) and return the schedule and what changed."""
    now = now or timezone.now()
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    edit = ScheduleEdit()
    changes = edit.changes
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
        added: list[ScheduleEntry] = []
        edited: list[dict] = []
        pending: list[tuple[ScheduleEntry | None, dict]] = []
        for entry in entries:
            entry = dict(entry)
            entry_id = entry.pop("id", None)
            if entry_id is not None:
                existing = current.get(entry_id)
                if existing is None or entry_id in kept:
                    raise ScheduleEntryUnknown(entry_id)
                kept.add(entry_id)
                pending.append((existing, entry))
            else:
                pending.append((None, entry))
        # Entries without id are matched after every id is claimed.
        matched: list[tuple[ScheduleEntry, dict]] = []
        for existing, entry in pending:
            if existing is None:
                existing = _match(current, kept, entry)
                if existing is None:
                    added.append(ScheduleEntry(schedule=schedule, **entry))
                    continue
                kept.add(existing.pk)
            matched.append((existing, entry))
        for existing, entry in matched:
            if _entry_values(existing) != _entry_values(entry):
                before = _entry_audit(existing)
                for name_ in ENTRY_FIELDS:
                    setattr(existing, name_, entry[name_])
                existing.save(update_fields=list(ENTRY_FIELDS))
                edited.append({"old": before, "new": _entry_audit(existing)})
        edit.kept = len(matched) - len(edited)
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
                "retired": [_entry_audit(e) for e in retired],
            }
    if changes and not preview:
        record_audit(action=AuditEvent.Action.UPDATE, obj=schedule, actor=actor, changes=changes)
    if timing_changed:
        edit.subjects, edit.assessments = materialise_schedule_subjects(
            schedule=schedule, now=now, log=not preview
        )
    return schedule, edit


class ScheduleEntryUnknown(Exception):
    """An entry id in an edit is not a current entry of the schedule (or is listed twice)."""
