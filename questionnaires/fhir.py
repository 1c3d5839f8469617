"""Render an instrument definition as a FHIR R4 Questionnaire resource (a plain dict)."""

from __future__ import annotations

import re
from typing import Any

from questionnaires.definitions import localise

__all__ = [
    "DIFFICULTY_ANSWER_LOINC",
    "LOCAL_OBSERVATION_SYSTEM",
    "LOCAL_SYSTEM_PREFIX",
    "LOINC_SYSTEM",
    "MAX_VALUE_URL",
    "MIN_VALUE_URL",
    "ORDINAL_VALUE_URL",
    "QUESTIONNAIRE_URL_PREFIX",
    "SCORE_LINK_IDS",
    "answer_coding",
    "questionnaire_canonical",
    "score_items",
    "to_fhir_questionnaire",
]

LOINC_SYSTEM = "http://loinc.org"
ORDINAL_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/maxValue"
QUESTIONNAIRE_URL_PREFIX = "urn:cycloserine-screening:questionnaire:"
# Answers without a LOINC code (BPNS reflexes, difficulty items) use a project code system per item.
LOCAL_SYSTEM_PREFIX = "urn:cycloserine-screening:answers:"
# Scores LOINC has no code for (neuropathy grade, BPNS case) use this project code system
# (docs/fhir.md): ``neuropathy-grade`` (integer 0-3), ``bpns-case`` (boolean).
LOCAL_OBSERVATION_SYSTEM = "urn:cycloserine-screening:observation-codes"
# LOINC answer list LL359-1 "Perceived difficulty (PHQ-9)", used by item 69722-7
# (https://loinc.org/LL359-1; clinical-reference §4 lists the same codes): option value -> code.
DIFFICULTY_ITEM_LOINC = "69722-7"
DIFFICULTY_ANSWER_LOINC = {0: "LA6572-7", 1: "LA6573-5", 2: "LA6575-0", 3: "LA6574-3"}
# linkIds of the read-only score items appended to a Questionnaire (never item codes: those
# contain no dot).
SCORE_LINK_IDS = {"total": "score.total", "grade": "score.grade", "case": "score.case"}


def _resource_id(code: str, version: int) -> str:
    """Return a FHIR id such as ``phq-9-v1``."""
    return re.sub(r"[^a-z0-9-]", "-", code.lower()) + f"-v{version}"


def _computable_name(code: str) -> str:
    """Return a computer-friendly name such as ``PHQ_9`` (FHIR constraint que-0)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", code.upper())


def answer_coding(
    definition: dict[str, Any], item: dict[str, Any], option: dict[str, Any], label: str
) -> dict[str, Any]:
    """Return the Coding of one answer: its LOINC answer code, else the item's local code."""
    value = option["value"]
    loinc = option["loinc"]
    if not loinc and item.get("loinc") == DIFFICULTY_ITEM_LOINC:
        loinc = DIFFICULTY_ANSWER_LOINC.get(value)
    if loinc:
        return {"system": LOINC_SYSTEM, "code": loinc, "display": label}
    system = f"{LOCAL_SYSTEM_PREFIX}{definition['code'].lower()}:{item['code']}"
    return {"system": system, "code": str(value), "display": label}


def questionnaire_canonical(definition: dict[str, Any]) -> str:
    """Return the versioned canonical URL of the definition's Questionnaire (``url|version``)."""
    return f"{QUESTIONNAIRE_URL_PREFIX}{definition['code']}|{definition['version']}"


def score_items(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the read-only score items: the LOINC total, or the neuropathy grade and BPNS case."""
    items: list[dict[str, Any]] = []
    loinc = definition.get("loinc") or {}
    if loinc.get("total"):
        items.append(
            {
                "linkId": SCORE_LINK_IDS["total"],
                "code": [
                    {"system": LOINC_SYSTEM, "code": loinc["total"], "display": "Total score"}
                ],
                "text": "Total score",
                "type": "integer",
                "required": False,
                "readOnly": True,
            }
        )
    if definition.get("scoring") in ("NEURO-SX", "BPNS"):
        items.append(
            {
                "linkId": SCORE_LINK_IDS["grade"],
                "code": [
                    {
                        "system": LOCAL_OBSERVATION_SYSTEM,
                        "code": "neuropathy-grade",
                        "display": "Subjective sensory neuropathy grade",
                    }
                ],
                "text": "Subjective sensory neuropathy grade (0-3)",
                "type": "integer",
                "required": False,
                "readOnly": True,
            }
        )
    if definition.get("scoring") == "BPNS":
        items.append(
            {
                "linkId": SCORE_LINK_IDS["case"],
                "code": [
                    {
                        "system": LOCAL_OBSERVATION_SYSTEM,
                        "code": "bpns-case",
                        "display": "Peripheral neuropathy case (BPNS)",
                    }
                ],
                "text": "Neuropathy case (symptoms and bilateral signs)",
                "type": "boolean",
                "required": False,
                "readOnly": True,
            }
        )
    return items


def _answer_option(
    definition: dict[str, Any], item: dict[str, Any], option: dict[str, Any], label: str
) -> dict[str, Any]:
    """Return one answerOption; scored integer values carry their ordinalValue."""
    value = option["value"]
    answer: dict[str, Any] = {"valueCoding": answer_coding(definition, item, option, label)}
    if item["scored"] and isinstance(value, int) and not isinstance(value, bool):
        # Scores are computed from ordinal values, never from LOINC answer codes
        # (docs/clinical-reference.md §1).
        answer["extension"] = [{"url": ORDINAL_VALUE_URL, "valueDecimal": value}]
    return answer


def to_fhir_questionnaire(definition: dict[str, Any], language: str = "en") -> dict[str, Any]:
    """Return the definition as a FHIR R4 Questionnaire in one language (English fallback)."""
    rendered, served = localise(definition, language)
    items = []
    for item, shown in zip(definition["items"], rendered["items"], strict=True):
        entry: dict[str, Any] = {"linkId": item["code"]}
        if item["loinc"]:
            entry["code"] = [
                {"system": LOINC_SYSTEM, "code": item["loinc"], "display": shown["text"]}
            ]
        entry["text"] = shown["text"]
        entry["type"] = item["type"]
        entry["required"] = item["required"]
        if item["type"] == "choice":
            entry["answerOption"] = [
                _answer_option(definition, item, option, shown_option["label"])
                for option, shown_option in zip(item["options"], shown["options"], strict=True)
            ]
        else:
            entry["extension"] = [
                {"url": MIN_VALUE_URL, "valueInteger": item["min"]},
                {"url": MAX_VALUE_URL, "valueInteger": item["max"]},
            ]
        items.append(entry)
    questionnaire: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": _resource_id(definition["code"], definition["version"]),
        "language": served,
        "url": QUESTIONNAIRE_URL_PREFIX + definition["code"],
        "version": str(definition["version"]),
        "name": _computable_name(definition["code"]),
        "title": rendered["title"],
        "status": "active",
        "subjectType": ["Patient"],
        "description": rendered["preamble"],
        "copyright": definition["copyright"],
    }
    loinc = definition["loinc"]
    if loinc and loinc["panel"]:
        questionnaire["code"] = [
            {"system": LOINC_SYSTEM, "code": loinc["panel"], "display": rendered["title"]}
        ]
    questionnaire["item"] = items + score_items(definition)
    return questionnaire
