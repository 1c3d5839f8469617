"""The data dictionary: every exported column's meaning, type, unit and allowed values (pure).

Columns are declared once (``Column``) next to the dataset that fills them; a response's item
columns are generated from the instrument definitions (``item_columns``), so a new instrument or
version appears in the export and in the dictionary without code changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TYPES = ("string", "integer", "decimal", "boolean", "datetime", "date", "json", "uuid")
DICTIONARY_HEADER = ["dataset", "column", "type", "unit", "allowed_values", "meaning"]


@dataclass(frozen=True)
class Column:
    """One exported column. ``allowed`` lists values or states a range (e.g. ``0-27``)."""

    name: str
    type: str
    meaning: str
    unit: str = ""
    allowed: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")


def choices(values: Iterable[Any]) -> tuple[str, ...]:
    """Return allowed values from Django-style choices or plain values."""
    out = []
    for value in values:
        out.append(str(value[0] if isinstance(value, tuple | list) else value))
    return tuple(out)


def _english(texts: Mapping[str, str] | str) -> str:
    if isinstance(texts, str):
        return texts
    return texts.get("en") or next(iter(texts.values()), "")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


def item_columns(definitions: Iterable[Mapping[str, Any]]) -> list[Column]:
    """Return one column per item code across the definitions, in first-seen order.

    Items sharing a code across instruments (the symptom items of NEURO-SX and BPNS) share a
    column; its meaning names every instrument and version it comes from.
    """
    seen: dict[str, dict[str, Any]] = {}
    for definition in definitions:
        where = f"{definition['code']} v{definition['version']}"
        for item in definition["items"]:
            entry = seen.setdefault(
                item["code"],
                {"item": item, "text": _english(item["text"]), "instruments": []},
            )
            entry["instruments"].append(where)
    columns = []
    for code, entry in seen.items():
        item = entry["item"]
        if item["type"] == "choice":
            allowed = tuple(
                f"{option['value']}={_english(option['label'])}" for option in item["options"]
            )
            kind = (
                "integer" if all(isinstance(o["value"], int) for o in item["options"]) else "string"
            )
        else:
            allowed = (f"{item['min']}-{item['max']}",)
            kind = "integer"
        scored = "scored" if item["scored"] else "recorded, not scored"
        loinc = f"; LOINC {item['loinc']}" if item.get("loinc") else ""
        columns.append(
            Column(
                name=code,
                type=kind,
                meaning=(
                    f"Answer to item {code} ({', '.join(entry['instruments'])}; {scored}{loinc}): "
                    f"{_sentence(entry['text'])} Empty when unanswered or not part of the "
                    "instrument."
                ),
                allowed=allowed,
            )
        )
    return columns


def dictionary_rows(datasets: Mapping[str, Iterable[Column]]) -> list[dict[str, str]]:
    """Return the dictionary as rows (dataset, column, type, unit, allowed_values, meaning)."""
    rows = []
    for dataset, columns in datasets.items():
        for column in columns:
            rows.append(
                {
                    "dataset": dataset,
                    "column": column.name,
                    "type": column.type,
                    "unit": column.unit,
                    "allowed_values": " | ".join(column.allowed),
                    "meaning": column.meaning,
                }
            )
    return rows
