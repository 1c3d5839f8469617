from django.apps import AppConfig
from django.db.models.signals import post_migrate


def sync_after_migrate(sender, using="default", **kwargs) -> None:
    """Load new instrument versions whenever the database is migrated (so on every start)."""
    from .services import sync_instruments

    sync_instruments()


class QuestionnairesConfig(AppConfig):
    name = "questionnaires"
    verbose_name = "Questionnaires"

    def ready(self) -> None:
        post_migrate.connect(sync_after_migrate, sender=self)
