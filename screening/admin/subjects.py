"""Admin for subjects and their regimen changes. Writes go through the enrolment services, so
they are audited and re-materialise assessments. Contact details are never shown: only whether
they are present.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from screening.admin.base import TimezoneFormMixin
from screening.models import (
    RegimenChange,
    Subject,
)
from screening.selectors import untranslated_instruments
from screening.services import enrolment


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
        data = cast(dict[str, Any], super().clean())  # a ModelForm returns its cleaned_data
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
                subject = enrolment.enrol_subject(
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
                missing = untranslated_instruments(subject)
                if missing:
                    messages.warning(
                        request,
                        f"No {subject.language} translation of {', '.join(missing)}: the "
                        "subject's pages will show them in English.",
                    )
                return
            fields = {
                name: data[name]
                for name in enrolment.SUBJECT_FIELDS
                if name in form.changed_data and name in data
            }
            if "sex" in fields:
                fields["sex"] = fields["sex"] or ""
            enrolment.update_subject(
                subject=obj,
                fields=fields,
                contact=contact or None,
                actor=request.user,
                **({"schedule": data.get("schedule")} if "schedule" in form.changed_data else {}),
            )

    @admin.action(description="Withdraw the selected subjects (reason: via Django admin)")
    def withdraw(self, request, queryset):
        for subject in queryset.filter(status=Subject.Status.ACTIVE):
            enrolment.withdraw_subject(
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
        change_row = enrolment.record_regimen_change(
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
