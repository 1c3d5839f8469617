"""Shared admin pieces: site scoping, read-only model admins and the time-zone form field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from screening import occurrences
from screening.selectors import is_admin


def admin_sees_all(user) -> bool:
    """Superusers and admins (``is_staff``, as in the API) see every site in the admin."""
    return bool(user.is_active and (user.is_superuser or is_admin(user)))


def member_site_ids(user) -> list:
    from screening.models import SiteMembership

    return list(SiteMembership.objects.filter(user=user).values_list("site_id", flat=True))


class SiteScopedAdmin(admin.ModelAdmin):
    """A model admin whose rows belong to a site, reached through ``site_path``.

    Admins see everything and have Django's model permissions. A site member (clinician or
    coordinator, not an admin) sees only the rows of their sites (another site's row is not
    found, as in the API), may view them, and may add and change them only where
    ``members_may_write`` says so (subjects and regimen changes, as in the API). ``site_path``
    None means rows shared by every site (monitoring profiles): members may view them.
    """

    site_path: str | None = "site"
    members_may_write = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if admin_sees_all(request.user):
            return queryset
        if self.site_path is None:
            return queryset
        ids = member_site_ids(request.user)
        return queryset.filter(**{f"{self.site_path}__in": ids})

    def _member(self, request) -> bool:
        return not admin_sees_all(request.user)

    def has_module_permission(self, request) -> bool:
        return True if self._member(request) else super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        if self._member(request):
            return True  # rows are already limited to the member's sites
        return super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        if self._member(request):
            return self.members_may_write
        return super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        if self._member(request):
            return self.members_may_write
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if self._member(request):
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A member picks only their own sites, and what belongs to them.
        if self._member(request):
            from screening.models import Schedule, Site, Subject

            ids = member_site_ids(request.user)
            scoped = {
                Site: Site.objects.filter(pk__in=ids),
                Subject: Subject.objects.filter(site_id__in=ids),
                Schedule: Schedule.objects.filter(site_id__in=ids),
            }
            if db_field.related_model in scoped:
                kwargs["queryset"] = scoped[db_field.related_model]
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(SiteScopedAdmin):
    """History: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TimezoneFormMixin:
    cleaned_data: dict[str, Any]  # provided by the form it is mixed into

    def clean_timezone(self):
        value = self.cleaned_data["timezone"]
        if not occurrences.is_valid_timezone(value):
            raise forms.ValidationError("Unknown time zone; use an IANA name.")
        return value
