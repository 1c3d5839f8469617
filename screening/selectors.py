"""Reads used in more than one place."""

from django.db.models import QuerySet

from questionnaires.definitions import has_translation
from questionnaires.services import get_current_version

from .models import Schedule, Site, StaffProfile, Subject


def is_admin(user) -> bool:
    """Admins (staff users) see and configure everything."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def visible_sites(user) -> QuerySet[Site]:
    """Sites the user may see: all for admins, else the sites they are a member of."""
    if is_admin(user):
        return Site.objects.all()
    return Site.objects.filter(memberships__user=user)


def visible_subjects(user) -> QuerySet[Subject]:
    """Subjects the user may see; everything else must answer 404."""
    if is_admin(user):
        return Subject.objects.all()
    return Subject.objects.filter(site__memberships__user=user)


def visible_schedules(user) -> QuerySet[Schedule]:
    """Schedules the user may read: all for admins, else those of their sites."""
    if is_admin(user):
        return Schedule.objects.all()
    return Schedule.objects.filter(site__memberships__user=user)


def staff_user_by_public_id(public_id):
    """Return the active staff user with this public id (see StaffProfile), or None."""
    profile = (
        StaffProfile.objects.select_related("user")
        .filter(public_id=public_id, user__is_active=True)
        .first()
    )
    return profile.user if profile else None


def untranslated_instruments(subject: Subject) -> list[str]:
    """The self-report instruments of the subject's schedule with no text in their language.

    The subject sees those in English (the fallback); staff are told at enrolment.
    """
    schedule = subject.schedule
    if schedule is None:
        return []
    codes = sorted(set(schedule.entries.values_list("instrument_code", flat=True)))
    missing = []
    for code in codes:
        version = get_current_version(code)
        if version is None or version.kind != "self_report":
            continue
        if not has_translation(version.definition, subject.language):
            missing.append(code)
    return missing
