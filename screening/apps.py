from django.apps import AppConfig
from django.db.models.signals import post_migrate


def create_default_profile(sender, apps=None, using="default", **kwargs) -> None:
    """Ship the default cycloserine monitoring profile (version 1) after every migrate; idempotent.

    A post_migrate hook rather than a data migration, so a database flushed by the tests (which
    emits post_migrate) has the default profile again, as a fresh install does.
    """
    from screening.services.profiles import ensure_default_profile

    try:
        model = apps.get_model("screening", "MonitoringProfile")
    except (AttributeError, LookupError):  # no migration state given, or migrated to zero
        return
    ensure_default_profile(model)


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = "Screening"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401 - registers the checks, connects receivers

        post_migrate.connect(create_default_profile, sender=self)
