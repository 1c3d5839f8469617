"""Fixtures for the questionnaires app's database and API tests."""

import copy

import pytest

from questionnaires.definitions import load_definitions
from questionnaires.services import sync_instruments

FILE_DEFINITIONS = {d["code"]: d for d in load_definitions()}


def partial_spanish_phq9() -> dict:
    """Return PHQ-9 as a version 2 that adds a partial Spanish translation (texts unchanged).

    Spanish: the title, the stem, item 1 with its four answer labels, and item 2's text only;
    everything else must fall back to English, text by text.
    """
    definition = copy.deepcopy(FILE_DEFINITIONS["PHQ-9"])
    definition["version"] = 2
    definition["title"]["es"] = "Cuestionario sobre la salud del paciente (PHQ-9)"
    definition["preamble"]["es"] = (
        "Durante las últimas 2 semanas, ¿qué tan seguido ha tenido molestias debido a los "
        "siguientes problemas?"
    )
    first, second = definition["items"][0], definition["items"][1]
    first["text"]["es"] = "Poco interés o placer en hacer cosas"
    for option, label in zip(
        first["options"],
        ["Ningún día", "Varios días", "Más de la mitad de los días", "Casi todos los días"],
        strict=True,
    ):
        option["label"]["es"] = label
    second["text"]["es"] = "Se ha sentido decaído(a), deprimido(a) o sin esperanzas"
    return definition


@pytest.fixture
def phq9_v2(db):
    """Store the partially translated PHQ-9 version 2 next to version 1; return its row."""
    (row,) = sync_instruments(definitions=[partial_spanish_phq9()])
    return row
