"""Admin for schedules and their entries, with a preview of the occurrences they create."""

from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.html import format_html_join

from screening import occurrences
from screening.admin.base import SiteScopedAdmin
from screening.audit import record_audit
from screening.models import (
    AuditEvent,
    Schedule,
    ScheduleEntry,
)
from screening.services import assessments, schedules

PREVIEW_COUNT = 20


def describe_edit(edit: schedules.ScheduleEdit) -> str:
    """One paragraph on what a schedule edit changes, for the admin's preview."""
    entries = edit.changes.get("entries", {"added": [], "changed": [], "retired": []})
    return (
        f"Preview only, nothing was saved. Entries: {len(entries['added'])} added, "
        f"{len(entries['changed'])} changed, {len(entries['retired'])} retired, "
        f"{edit.kept} unchanged. For the {edit.subjects} active subject(s) on this schedule: "
        f"{edit.assessments.created} assessment(s) created, {edit.assessments.retimed} "
        f"re-timed, {edit.assessments.cancelled} cancelled; opened, answered and missed "
        "assessments stay as they are. Save to apply."
    )


class ScheduleEntryFormSet(BaseInlineFormSet):
    """With the change form's preview button, computes the edit and shows it instead of saving."""

    request = None

    def clean(self):
        super().clean()
        request = self.request
        if request is None or "_preview" not in request.POST or self.instance.pk is None:
            return
        if any(self.errors):
            return
        entries = []
        for form in self.forms:
            if form.instance.pk is None and not form.has_changed():
                continue  # an empty extra row
            values = {f: form.cleaned_data.get(f) for f in schedules.ENTRY_FIELDS}
            values["reminder_hours"] = values["reminder_hours"] or []
            if form.instance.pk is not None:
                values["id"] = form.instance.pk
            entries.append(values)
        edit = schedules.preview_schedule_edit(schedule=self.instance, entries=entries)
        raise ValidationError(describe_edit(edit), code="preview")


class ScheduleEntryInline(admin.TabularInline):
    model = ScheduleEntry
    formset = ScheduleEntryFormSet
    extra = 0
    fields = [
        "instrument_code",
        "offset_days",
        "repeat_every_days",
        "until_day",
        "time_of_day",
        "window_hours",
        "reminder_hours",
        "retired_at",
    ]
    readonly_fields = ["retired_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # remove an entry through the API, which retires it and its assessments

    def get_queryset(self, request):
        return super().get_queryset(request).filter(retired_at__isnull=True)

    def get_formset(self, request, obj=None, **kwargs):
        formset = cast(type[ScheduleEntryFormSet], super().get_formset(request, obj, **kwargs))
        formset.request = request
        return formset


def schedule_preview_rows(schedule: Schedule, *, start=None, count: int = PREVIEW_COUNT) -> list:
    """Return the first occurrences for a treatment starting today in the site's time zone."""
    tz_name = schedule.site.timezone if schedule.site else "UTC"
    start = start or timezone.now().date()
    entries = [assessments.entry_spec(e) for e in schedule.entries.filter(retired_at__isnull=True)]
    return occurrences.occurrences(entries, treatment_start=start, tz_name=tz_name)[:count]


@admin.register(Schedule)
class ScheduleAdmin(SiteScopedAdmin):
    list_display = ["name", "site", "is_default"]
    list_filter = [("site", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["site"]
    inlines = [ScheduleEntryInline]
    readonly_fields = ["preview"]

    @admin.display(description="preview (treatment starting today, site time zone)")
    def preview(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "Save the schedule to see its preview."
        try:
            rows = schedule_preview_rows(obj)
        except ValueError as exc:
            return f"Cannot preview: {exc}"
        if not rows:
            return "No occurrences."
        zone = obj.site.timezone if obj.site else "UTC"
        from zoneinfo import ZoneInfo

        return format_html_join(
            "\n",
            "<div>{} #{}: day {} &mdash; opens {} ({}), closes {}</div>",
            (
                (
                    o.instrument_code,
                    o.occurrence,
                    o.day,
                    o.opens_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M"),
                    zone,
                    o.closes_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M"),
                )
                for o in rows
            ),
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        schedule = form.instance
        record_audit(
            action=AuditEvent.Action.UPDATE if change else AuditEvent.Action.CREATE,
            obj=schedule,
            actor=request.user,
            changes={
                "via": "django admin",
                "entries": [
                    schedules._entry_audit(e)
                    for e in schedule.entries.filter(retired_at__isnull=True)
                ],
            },
        )
        assessments.materialise_schedule_subjects(schedule=schedule)
