"""Keep the stored instrument versions in step with the data files."""

import time

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .definitions import definition_checksum, load_definitions
from .models import InstrumentVersion

# Versions are immutable and a new one arrives only with ``migrate`` (a release): each process
# keeps the current version of each code for this long instead of asking on every submission and
# every assessment list. A version saved or deleted in this process clears it at once.
CURRENT_VERSION_TTL = 60.0
_current: dict[str, tuple[float, InstrumentVersion]] = {}


@receiver(post_save, sender=InstrumentVersion)
@receiver(post_delete, sender=InstrumentVersion)
def clear_current_versions(**kwargs) -> None:
    """Forget the cached current versions (a version was stored or removed)."""
    _current.clear()


class DefinitionChangedError(RuntimeError):
    """A stored version's file was edited in place instead of being given a new version."""


@transaction.atomic
def sync_instruments(definitions: list[dict] | None = None) -> list[InstrumentVersion]:
    """Store every definition file's version that is not stored yet; return the new rows.

    Idempotent. A version already stored is never changed: responses point at it. Editing a
    definition means adding a file with the next version number.
    """
    created = []
    for definition in load_definitions() if definitions is None else definitions:
        checksum = definition_checksum(definition)
        stored, was_created = InstrumentVersion.objects.get_or_create(
            code=definition["code"],
            version=definition["version"],
            defaults={"kind": definition["kind"], "definition": definition, "checksum": checksum},
        )
        if was_created:
            created.append(stored)
        elif stored.checksum != checksum:
            raise DefinitionChangedError(
                f"{stored} differs from its data file: a changed definition needs a new version "
                f"number (add {definition['code']}.v{definition['version'] + 1}.json)."
            )
    return created


def get_current_version(code: str) -> InstrumentVersion | None:
    """Return the newest stored version of an instrument, or None for an unknown code."""
    return current_versions([code]).get(code)


def current_versions(codes) -> dict[str, InstrumentVersion]:
    """Return the newest stored version of each known code (one query for the uncached ones)."""
    now = time.monotonic()
    found: dict[str, InstrumentVersion] = {}
    missing = set()
    for code in set(codes):
        hit = _current.get(code)
        if hit is not None and hit[0] > now:
            found[code] = hit[1]
        else:
            missing.add(code)
    if missing:
        for version in InstrumentVersion.objects.filter(code__in=missing).order_by(
            "code", "-version"
        ):
            if version.code not in found:
                found[version.code] = version
                _current[version.code] = (now + CURRENT_VERSION_TTL, version)
    return found
