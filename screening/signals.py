"""Give every staff user an opaque public id as soon as the user exists."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import StaffProfile


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="screening.ensure_staff_profile")
def ensure_staff_profile(sender, instance, created, raw=False, **kwargs) -> None:
    """Create the user's StaffProfile (public UUID) when the user is created."""
    if created and not raw:
        StaffProfile.objects.get_or_create(user=instance)
