"""Keep the stored instrument versions in step with the data files."""

from django.db import transaction

from .definitions import definition_checksum, load_definitions
from .models import InstrumentVersion


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
    return InstrumentVersion.objects.filter(code=code).order_by("-version").first()
