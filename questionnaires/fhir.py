"""Render an instrument definition as a FHIR R4 Questionnaire resource (a plain dict)."""

from __future__ import annotations

import re
from typing import Any

from questionnaires.definitions import localise

__all__ = [
    "LOCAL_SYSTEM_PREFIX",
    "LOINC_SYSTEM",
    "MAX_VALUE_URL",
    "MIN_VALUE_URL",
    "ORDINAL_VALUE_URL",
    "QUESTIONNAIRE_URL_PREFIX",
    "to_fhir_questionnaire",
]

LOINC_SYSTEM = "http://loinc.org"
ORDINAL_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/maxValue"
QUESTIONNAIRE_URL_PREFIX = "urn:cycloserine-screening:questionnaire:"
# Answers without a LOINC code (BPNS reflexes, difficulty items) use a project code system per item.
LOCAL_SYSTEM_PREFIX = "urn:cycloserine-screening:answers:"


def _resource_id(code: str, version: int) -> str:
    """Return a FHIR id such as ``phq-9-v1``."""
    return re.sub(r"[^a-z0-9-]", "-", code.lower()) + f"-v{version}"


def _computable_name(code: str) -> str:
    """Return a computer-friendly name such as ``PHQ_9`` (FHIR constraint que-0)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", code.upper())


def _answer_option(
    definition: dict[str, Any], item: dict[str, Any], option: dict[str, Any], label: str
) -> dict[str, Any]:
    """Return one answerOption; scored integer values carry their ordinalValue."""
    value = option["value"]
    if option["loinc"]:
        coding = {"system": LOINC_SYSTEM, "code": option["loinc"], "display": label}
    else:
        system = f"{LOCAL_SYSTEM_PREFIX}{definition['code'].lower()}:{item['code']}"
        coding = {"system": system, "code": str(value), "display": label}
    answer: dict[str, Any] = {"valueCoding": coding}
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
    questionnaire["item"] = items
    return questionnaire
