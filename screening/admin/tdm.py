"""Admin for Cmax results (read only) and monitoring profiles (every save is a new version).

One module of the ``screening.admin`` package.
"""

from django import forms
from django.contrib import admin

from screening.admin.base import SiteScopedAdmin
from screening.models import CmaxResult, MonitoringProfile
from screening.services.profiles import (
    PROFILE_FIELDS,
    check_recommended_actions,
    create_profile_version,
)


@admin.register(CmaxResult)
class CmaxResultAdmin(SiteScopedAdmin):
    """Cmax results are recorded through the API (plausibility, idempotency, audit): view only."""

    site_path = "subject__site"

    list_display = (
        "subject",
        "value_ug_per_ml",
        "value",
        "unit",
        "sampled_at",
        "hours_post_dose",
        "lab_reference",
    )
    list_filter = ("unit",)
    search_fields = ("lab_reference", "subject__study_id")
    list_select_related = ("subject", "subject__site")
    date_hierarchy = "sampled_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MonitoringProfileForm(forms.ModelForm):
    class Meta:
        model = MonitoringProfile
        fields = ("drug", *PROFILE_FIELDS)

    def clean_recommended_actions(self):
        value = self.cleaned_data.get("recommended_actions") or {}
        problems = check_recommended_actions(value)
        if problems:
            raise forms.ValidationError(problems)
        return value


@admin.register(MonitoringProfile)
class MonitoringProfileAdmin(SiteScopedAdmin):
    """Saving a profile never edits it: it stores the next version of the drug's profile."""

    site_path = None  # shared by every site: members may view them

    form = MonitoringProfileForm
    list_display = ("drug", "version", "name", "cmax_ceiling", "cmax_ceiling_source", "created_at")
    list_filter = ("drug", "cmax_ceiling_source")
    ordering = ("drug", "-version")

    def get_readonly_fields(self, request, obj=None):
        base = ("version", "created_by", "created_at")
        return ("drug", *base) if obj is not None else base

    def save_model(self, request, obj, form, change) -> None:
        drug = obj.drug
        changes = {name: form.cleaned_data[name] for name in PROFILE_FIELDS}
        created = create_profile_version(
            drug=drug, changes=changes, created_by=request.user
        ).profile
        # The edited row stays as it was; the admin goes on with the new version.
        obj.pk = created.pk
        obj.version = created.version
        obj.created_by = created.created_by
        obj.created_at = created.created_at

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
