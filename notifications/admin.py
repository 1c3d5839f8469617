"""Admin for alerts: read only (acknowledge and resolve through the API, which audits them)."""

from django.contrib import admin

from screening.admin.audited import AuditedAdminMixin
from screening.admin.base import SiteScopedAdmin

from .models import Alert, Channel, ExportJob
from .reconciliation import undeliverable_alerts


class DeliveryStateFilter(admin.SimpleListFilter):
    """Open alerts that reached no one in time (notifications.reconciliation)."""

    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("undeliverable", "Undeliverable: reached no one in time")]

    def queryset(self, request, queryset):
        if self.value() == "undeliverable":
            return queryset.filter(pk__in=[alert.pk for alert in undeliverable_alerts()])
        return queryset


@admin.register(Alert)
class AlertAdmin(SiteScopedAdmin):
    site_path = "subject__site"
    list_display = ("id", "subject", "category", "severity", "status", "created_at")
    list_filter = (DeliveryStateFilter, "status", "category", "severity")
    search_fields = ("subject__study_id",)
    list_select_related = ("subject", "subject__site")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Alert._meta.fields] + [
        "evidence_responses",
        "evidence_cmax_results",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Channel)
class ChannelAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """A staff user's channels; every admin change is audited (issue 10)."""

    list_display = ("user", "kind", "address", "active", "broken_at")
    list_filter = ("kind", "active")
    search_fields = ("user__username", "address")
    readonly_fields = ("implicit", "broken_at", "last_error", "created_at")
    exclude = ("signing_secret",)


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Export jobs, read only: who asked for what, how far it got, its files."""

    list_display = ("id", "dataset", "status", "requested_by", "rows_written", "created_at")
    list_filter = ("status", "dataset")
    list_select_related = ("requested_by",)
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in ExportJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
