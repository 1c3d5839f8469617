"""Instrument versions in the admin: read-only, because responses point at the version answered."""

import json

from django.contrib import admin
from django.utils.html import format_html

from .models import InstrumentVersion


@admin.register(InstrumentVersion)
class InstrumentVersionAdmin(admin.ModelAdmin):
    """Show stored versions; change a definition by adding a data file with the next version."""

    list_display = ["code", "version", "kind", "created_at"]
    list_filter = ["code", "kind"]
    ordering = ["code", "-version"]
    fields = ["code", "version", "kind", "checksum", "created_at", "pretty_definition"]
    readonly_fields = fields  # type: ignore[assignment]  # plain names, a subset of the union

    @admin.display(description="definition")
    def pretty_definition(self, obj: InstrumentVersion) -> str:
        text = json.dumps(obj.definition, indent=2, ensure_ascii=False, sort_keys=False)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
