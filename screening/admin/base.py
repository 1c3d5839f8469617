"""Shared admin pieces: read-only model admins and the time-zone form field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from screening import occurrences


class ReadOnlyAdmin(admin.ModelAdmin):
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
