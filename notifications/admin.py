"""Admin for alerts: read only (acknowledge and resolve through the API, which audits them)."""

from django.contrib import admin

from screening.admin.audited import AuditedAdminMixin
from screening.admin.base import SiteScopedAdmin

from .models import Alert, Channel, ExportJob
from .planning import enable_channel
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
    """Channels: see which are broken and why; re-enable them (what failed is sent again).

    Every admin change is audited (issue 10).
    """

    list_display = ("id", "user", "subject", "kind", "active", "broken_at", "last_error")
    list_filter = ("kind", "active", ("broken_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__email", "subject__study_id")
    list_select_related = ("user", "subject")
    readonly_fields = [field.name for field in Channel._meta.fields]
    actions = ["enable"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Re-enable (send again what failed for open alerts)")
    def enable(self, request, queryset):
        resent = sum(enable_channel(channel=channel, actor=request.user) for channel in queryset)
        self.message_user(request, f"{queryset.count()} channel(s) enabled; {resent} resent.")


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
