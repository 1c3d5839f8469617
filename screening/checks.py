"""System checks of screening (``manage.py check``; the deploy ones with ``--deploy``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_field_encryption_keys(app_configs, **kwargs):
    """Warn when contact details are encrypted with a key derived from the secret key."""
    if not getattr(settings, "FIELD_ENCRYPTION_KEYS_DERIVED", False):
        return []
    return [
        Warning(
            "FIELD_ENCRYPTION_KEYS is not set: contact details and staff phone numbers are "
            "encrypted with a key derived from DJANGO_SECRET_KEY, so rotating the secret key "
            "makes them unreadable and one leaked secret exposes both.",
            hint="Set FIELD_ENCRYPTION_KEYS to one or more Fernet keys (README, Configuration).",
            id="screening.W001",
        )
    ]
