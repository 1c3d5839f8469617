"""Admin for sites, their memberships (escalation tiers) and staff profiles."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from screening.admin.audited import AuditedAdminMixin
from screening.admin.base import SiteScopedAdmin, TimezoneFormMixin
from screening.models import (
    Site,
    SiteMembership,
    StaffProfile,
)


class SiteForm(TimezoneFormMixin, forms.ModelForm):
    class Meta:
        model = Site
        fields = ["code", "name", "timezone", "crisis_message"]


class MembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Site)
class SiteAdmin(AuditedAdminMixin, SiteScopedAdmin):
    site_path = "pk"
    form = SiteForm
    list_display = ["code", "name", "timezone"]
    search_fields = ["code", "name"]
    inlines = [MembershipInline]


@admin.register(SiteMembership)
class SiteMembershipAdmin(AuditedAdminMixin, SiteScopedAdmin):
    list_display = ["user", "site", "role", "escalation_tier"]
    list_filter = [("site", admin.RelatedOnlyFieldListFilter), "role"]
    list_select_related = ["user", "site"]
    autocomplete_fields = ["user", "site"]


@admin.register(StaffProfile)
class StaffProfileAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "public_id", "phone"]
    readonly_fields = ["public_id"]
    search_fields = ["user__username"]
