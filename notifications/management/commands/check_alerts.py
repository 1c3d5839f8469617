"""``manage.py check_alerts``: is every open alert delivered, on its way, or reported?"""

from django.core.management.base import BaseCommand, CommandError

from notifications.reconciliation import reconcile


class Command(BaseCommand):
    help = (
        "Reconcile open alerts: every one must be delivered, on its way within its escalation "
        "time, or reported undeliverable to the admins. Exits 1 otherwise."
    )

    def handle(self, *args, **options) -> None:
        result = reconcile()
        rows = [
            ("delivered", result.delivered),
            ("in flight, within escalation time", result.in_flight),
            ("undeliverable, reported to the admins", result.undeliverable_reported),
            ("undeliverable, NOT reported", result.undeliverable_unreported),
        ]
        for label, alerts in rows:
            self.stdout.write(f"{len(alerts):6d}  {label}")
        for label, alerts in rows[2:]:
            for alert in alerts:
                self.stdout.write(
                    f"  {label}: {alert.severity} {alert.category} alert {alert.pk} "
                    f"({alert.subject.site.code}:{alert.subject.study_id}, "
                    f"created {alert.created_at.isoformat()})"
                )
        if not result.accounted_for:
            raise CommandError(
                f"{len(result.undeliverable_unreported)} open alert(s) reached no one and were "
                "not reported: check the sites' clinicians and channels, and the worker and beat."
            )
        self.stdout.write("Every open alert is delivered, escalated or reported undeliverable.")
