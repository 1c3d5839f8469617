from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from config.health import add_readiness_report

        from .reconciliation import readiness_report

        add_readiness_report(readiness_report)
