"""Django admin for sites, staff, subjects, regimens, schedules (with preview) and the audit trail.

Writes of clinical data go through the same services as the API, so they are audited and
re-materialise assessments. Contact details are never shown: only whether they are present.
"""

from django import forms
from django.contrib import admin
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html_join

from . import schedules as timing
from . import services
from .audit import record_audit
from .models import (
    Assessment,
    AuditEvent,
    RegimenChange,
    Response,
    Schedule,
    ScheduleEntry,
    Site,
    SiteMembership,
    StaffProfile,
    Subject,
)

PREVIEW_COUNT = 20


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TimezoneFormMixin:
    def clean_timezone(self):
        value = self.cleaned_data["timezone"]
        if not timing.is_valid_timezone(value):
            raise forms.ValidationError("Unknown time zone; use an IANA name.")
        return value


class SiteForm(TimezoneFormMixin, forms.ModelForm):
    class Meta:
        model = Site
        fields = ["code", "name", "timezone", "crisis_message"]


class MembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteForm
    list_display = ["code", "name", "timezone"]
    search_fields = ["code", "name"]
    inlines = [MembershipInline]


@admin.register(SiteMembership)
class SiteMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "site", "role", "escalation_tier"]
    list_filter = ["site", "role"]
    autocomplete_fields = ["user", "site"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "public_id", "phone"]
    readonly_fields = ["public_id"]
    search_fields = ["user__username"]


class SubjectForm(TimezoneFormMixin, forms.ModelForm):
    contact_email = forms.EmailField(
        required=False, help_text="Stored encrypted. Leave empty to keep the current one."
    )
    contact_phone = forms.CharField(
        required=False,
        max_length=32,
        help_text="Stored encrypted. Leave empty to keep the current one.",
    )
    clear_contact = forms.BooleanField(required=False, help_text="Remove both contact details.")

    class Meta:
        model = Subject
        fields = [
            "site",
            "study_id",
            "timezone",
            "language",
            "treatment_start",
            "schedule",
            "sex",
            "year_of_birth",
            "hiv_positive",
            "renal_impairment",
        ]

    def clean(self):
        data = super().clean()
        schedule = data.get("schedule")
        site_id = data["site"].pk if data.get("site") else self.instance.site_id
        if schedule and site_id and schedule.site_id not in (None, site_id):
            self.add_error("schedule", "This schedule belongs to another site.")
        return data


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    form = SubjectForm
    list_display = ["study_id", "site", "status", "treatment_start", "timezone", "has_contact"]
    list_filter = ["site", "status"]
    search_fields = ["study_id"]
    list_select_related = ["site"]
    readonly_fields = ["status", "withdrawn_at", "has_contact_email", "has_contact_phone"]

    @admin.display(boolean=True, description="contact")
    def has_contact(self, obj) -> bool:
        return obj.has_contact_email or obj.has_contact_phone

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "site"] if obj else fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # withdraw instead: data is kept

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        contact = {}
        if data.get("clear_contact"):
            contact = {"email": "", "phone": ""}
        else:
            contact = {
                key: data[f"contact_{key}"]
                for key in ("email", "phone")
                if data.get(f"contact_{key}")
            }
        with transaction.atomic():
            if not change:
                subject = services.enrol_subject(
                    site=obj.site,
                    study_id=obj.study_id,
                    treatment_start=obj.treatment_start,
                    timezone_name=obj.timezone,
                    language=obj.language,
                    schedule=obj.schedule,
                    sex=obj.sex,
                    year_of_birth=obj.year_of_birth,
                    hiv_positive=obj.hiv_positive,
                    renal_impairment=obj.renal_impairment,
                    contact_email=contact.get("email", ""),
                    contact_phone=contact.get("phone", ""),
                    actor=request.user,
                )
                obj.pk = subject.pk
                obj._state.adding = False
                return
            fields = {
                name: data[name]
                for name in services.SUBJECT_FIELDS
                if name in form.changed_data and name in data
            }
            if "sex" in fields:
                fields["sex"] = fields["sex"] or ""
            services.update_subject(
                subject=obj,
                fields=fields,
                contact=contact or None,
                actor=request.user,
                **({"schedule": data.get("schedule")} if "schedule" in form.changed_data else {}),
            )

    @admin.action(description="Withdraw the selected subjects (reason: via Django admin)")
    def withdraw(self, request, queryset):
        for subject in queryset.filter(status=Subject.Status.ACTIVE):
            services.withdraw_subject(
                subject=subject, reason="withdrawn in Django admin", actor=request.user
            )

    actions = ["withdraw"]


class RegimenChangeForm(forms.ModelForm):
    class Meta:
        model = RegimenChange
        fields = [
            "subject",
            "effective_from",
            "drug",
            "dose_mg_per_day",
            "pyridoxine_mg_per_day",
            "isoniazid",
            "ethionamide",
            "alcohol_use",
        ]


@admin.register(RegimenChange)
class RegimenChangeAdmin(admin.ModelAdmin):
    form = RegimenChangeForm
    list_display = ["subject", "effective_from", "drug", "dose_mg_per_day"]
    list_select_related = ["subject"]
    autocomplete_fields = ["subject"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None  # a regimen change is recorded, never edited: record a new one

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        change_row = services.record_regimen_change(
            subject=data["subject"],
            effective_from=data["effective_from"],
            drug=data["drug"],
            dose_mg_per_day=data["dose_mg_per_day"],
            pyridoxine_mg_per_day=data.get("pyridoxine_mg_per_day"),
            isoniazid=data["isoniazid"],
            ethionamide=data["ethionamide"],
            alcohol_use=data["alcohol_use"],
            actor=request.user,
        )
        obj.pk = change_row.pk
        obj._state.adding = False


class ScheduleEntryInline(admin.TabularInline):
    model = ScheduleEntry
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


def schedule_preview_rows(schedule: Schedule, *, start=None, count: int = PREVIEW_COUNT) -> list:
    """Return the first occurrences for a treatment starting today in the site's time zone."""
    tz_name = schedule.site.timezone if schedule.site else "UTC"
    start = start or timezone.now().date()
    entries = [services.entry_spec(e) for e in schedule.entries.filter(retired_at__isnull=True)]
    return timing.occurrences(entries, treatment_start=start, tz_name=tz_name)[:count]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "is_default"]
    list_filter = ["site"]
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
                    services._entry_audit(e)
                    for e in schedule.entries.filter(retired_at__isnull=True)
                ],
            },
        )
        services.materialise_schedule_subjects(schedule=schedule)


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ["subject", "instrument_code", "occurrence", "opens_at", "closes_at", "status"]
    list_filter = ["status", "instrument_code"]
    list_select_related = ["subject"]
    search_fields = ["subject__study_id"]


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ["subject", "instrument_code", "source", "completed_at", "valid"]
    list_filter = ["instrument_code", "source"]
    list_select_related = ["subject"]
    search_fields = ["subject__study_id"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "object_type", "object_id", "actor", "subject"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor", "subject"]
    search_fields = ["object_id", "subject__study_id"]
