"""Read-only admin for what is never edited: assessments, responses and the audit trail."""

from __future__ import annotations

from django.contrib import admin

from screening.admin.base import ReadOnlyAdmin
from screening.models import (
    Assessment,
    AuditEvent,
    Response,
)


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    site_path = "subject__site"
    list_display = ["subject", "instrument_code", "occurrence", "opens_at", "closes_at", "status"]
    list_filter = ["status", "instrument_code"]
    list_select_related = ["subject", "subject__site"]
    search_fields = ["subject__study_id"]


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    site_path = "subject__site"
    list_display = ["subject", "instrument_code", "source", "completed_at", "valid"]
    list_filter = ["instrument_code", "source"]
    list_select_related = ["subject", "subject__site"]
    search_fields = ["subject__study_id"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    site_path = "subject__site"  # members see the events of their sites' subjects
    list_display = ["at", "action", "object_type", "object_id", "actor", "subject"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor", "subject", "subject__site"]
    search_fields = ["object_id", "subject__study_id"]
