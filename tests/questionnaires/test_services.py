"""Loading instrument versions from the data files (questionnaires/services.py, selectors.py)."""

import copy

import pytest

from questionnaires.definitions import definition_checksum, load_definitions
from questionnaires.models import InstrumentVersion
from questionnaires.selectors import current_versions, find_version
from questionnaires.services import (
    DefinitionChangedError,
    get_current_version,
    sync_instruments,
)
from tests.questionnaires.conftest import FILE_DEFINITIONS, partial_spanish_phq9

pytestmark = pytest.mark.django_db


def stored_rows() -> list[tuple]:
    return list(
        InstrumentVersion.objects.order_by("code", "version").values_list(
            "id", "code", "version", "kind", "checksum", "definition"
        )
    )


def test_migrate_hook_loaded_every_instrument_from_its_file():
    rows = InstrumentVersion.objects.order_by("code", "version").values_list(
        "code", "version", "kind", "checksum", "definition"
    )
    files = {(d["code"], d["version"]): d for d in load_definitions()}

    assert list(rows) == [
        (code, version, kind, definition_checksum(files[code, version]), files[code, version])
        for code, version, kind in [
            ("BPNS", 1, "clinician"),
            ("GAD-7", 1, "self_report"),
            ("NEURO-SX", 1, "self_report"),
            ("NEURO-SX", 2, "self_report"),
            ("PHQ-9", 1, "self_report"),
        ]
    ]


def test_sync_instruments_run_twice_adds_no_rows():
    InstrumentVersion.objects.all().delete()

    first = sync_instruments()
    after_first = stored_rows()
    second = sync_instruments()

    assert sorted((row.code, row.version) for row in first) == [
        ("BPNS", 1),
        ("GAD-7", 1),
        ("NEURO-SX", 1),
        ("NEURO-SX", 2),
        ("PHQ-9", 1),
    ]
    assert second == []
    assert stored_rows() == after_first


def test_sync_instruments_after_migrate_adds_nothing():
    before = stored_rows()

    assert sync_instruments() == []
    assert stored_rows() == before


def test_edited_stored_version_raises_and_changes_nothing():
    before = stored_rows()
    edited = copy.deepcopy(FILE_DEFINITIONS["PHQ-9"])
    edited["items"][8]["text"]["en"] = "An edited item 9"

    with pytest.raises(DefinitionChangedError, match=r"PHQ-9 v1 differs from its data file"):
        sync_instruments(definitions=[edited])

    assert stored_rows() == before


def test_edited_version_rolls_back_new_versions_loaded_in_the_same_run():
    before = stored_rows()
    edited = copy.deepcopy(FILE_DEFINITIONS["GAD-7"])
    edited["items"][0]["options"][3]["value"] = 4

    with pytest.raises(DefinitionChangedError):
        sync_instruments(definitions=[partial_spanish_phq9(), edited])

    assert stored_rows() == before


def test_new_file_version_adds_a_row_and_leaves_the_old():
    old = InstrumentVersion.objects.get(code="PHQ-9", version=1)
    before = stored_rows()
    new_definition = partial_spanish_phq9()

    created = sync_instruments(definitions=[*FILE_DEFINITIONS.values(), new_definition])

    assert [(row.code, row.version) for row in created] == [("PHQ-9", 2)]
    assert created[0].checksum == definition_checksum(new_definition)
    assert created[0].definition == new_definition
    after = stored_rows()
    assert [row for row in after if row[0] != created[0].id] == before
    assert InstrumentVersion.objects.get(pk=old.pk).checksum == old.checksum
    assert get_current_version("PHQ-9") == created[0]


def test_get_current_version_of_an_unknown_code_is_none():
    assert get_current_version("PHQ-10") is None


def test_current_versions_lists_the_newest_version_of_each_code(phq9_v2):
    assert [(row.code, row.version) for row in current_versions()] == [
        ("BPNS", 1),
        ("GAD-7", 1),
        ("NEURO-SX", 2),
        ("PHQ-9", 2),
    ]


def test_find_version_by_number_or_newest(phq9_v2):
    assert find_version(code="PHQ-9") == phq9_v2
    assert find_version(code="PHQ-9", version=1).version == 1
    assert find_version(code="PHQ-9", version=3) is None
    assert find_version(code="nope") is None


@pytest.mark.django_db
def test_the_current_version_is_cached_per_process_and_a_new_version_replaces_it(
    django_assert_num_queries,
):
    from questionnaires.models import InstrumentVersion
    from questionnaires.services import get_current_version

    first = get_current_version("PHQ-9")
    with django_assert_num_queries(0):
        assert get_current_version("PHQ-9") == first
    newer = InstrumentVersion.objects.create(
        code="PHQ-9",
        version=first.version + 1,
        kind=first.kind,
        definition={**first.definition, "version": first.version + 1},
        checksum="x" * 64,
    )

    assert get_current_version("PHQ-9") == newer
    assert get_current_version("NO-SUCH") is None
