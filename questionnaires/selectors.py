"""Reads of stored instrument versions used by the API (and, later, by other apps)."""

from django.db.models import OuterRef, QuerySet, Subquery

from .models import InstrumentVersion


def current_versions() -> QuerySet[InstrumentVersion]:
    """Return the newest stored version of every instrument, ordered by code (one query)."""
    newest = (
        InstrumentVersion.objects.filter(code=OuterRef("code"))
        .order_by("-version")
        .values("version")[:1]
    )
    return InstrumentVersion.objects.filter(version=Subquery(newest)).order_by("code")


def find_version(*, code: str, version: int | None = None) -> InstrumentVersion | None:
    """Return one version of an instrument (the newest when version is None), or None."""
    versions = InstrumentVersion.objects.filter(code=code)
    if version is not None:
        return versions.filter(version=version).first()
    return versions.order_by("-version").first()
