"""Check submitted answers against an instrument definition, item by item (pure, never raises)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

__all__ = [
    "ANSWERS_FIELD",
    "MESSAGE_EXPECTED_INTEGER",
    "MESSAGE_EXPECTED_STRING",
    "MESSAGE_NOT_AN_OBJECT",
    "MESSAGE_REQUIRED",
    "MESSAGE_UNKNOWN_ITEM",
    "validate_answers",
]

ANSWERS_FIELD = "answers"
MESSAGE_NOT_AN_OBJECT = "Answers must be a JSON object of item code to value."
MESSAGE_UNKNOWN_ITEM = "Unknown item."
MESSAGE_REQUIRED = "This item is required."
MESSAGE_EXPECTED_INTEGER = "Expected a whole number."
MESSAGE_EXPECTED_STRING = "Expected a text value."


def _is_int(value: object) -> TypeGuard[int]:
    """Tell whether a value is an int and not a bool (JSON true is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_choice(item: Mapping[str, Any], value: object) -> str | None:
    """Return the message for a bad choice answer, or None when it is one of the options."""
    values = [option["value"] for option in item["options"]]
    listed = ", ".join(str(v) for v in values)
    if all(_is_int(v) for v in values):
        if not _is_int(value):
            return MESSAGE_EXPECTED_INTEGER
    elif not isinstance(value, str):
        return MESSAGE_EXPECTED_STRING
    # Compare type and value: 1 must not match "1", nor True match 1.
    if not any(type(value) is type(v) and value == v for v in values):
        return f"Not one of the options: {listed}."
    return None


def _check_integer(item: Mapping[str, Any], value: object) -> str | None:
    """Return the message for a bad integer answer, or None when it is within min..max."""
    if not _is_int(value):
        return MESSAGE_EXPECTED_INTEGER
    low, high = item["min"], item["max"]
    if not low <= value <= high:
        return f"Must be between {low} and {high}."
    return None


def validate_answers(
    definition: Mapping[str, Any], answers: object, *, require_all_required: bool
) -> dict[str, list[str]]:
    """Return messages per item code for answers that do not fit the definition ({} if fine).

    A missing key or a null value is an unanswered item. Unanswered required items are errors
    only with ``require_all_required`` (the subject's phone); forms entered by staff may leave
    items out and the instrument's missing-data rule applies when scoring. Problems that belong to
    no item are listed under ``"answers"``.
    """
    if not isinstance(answers, Mapping):
        return {ANSWERS_FIELD: [MESSAGE_NOT_AN_OBJECT]}
    items = {item["code"]: item for item in definition["items"]}
    errors: dict[str, list[str]] = {}
    for key, value in answers.items():
        if not isinstance(key, str) or key not in items:
            errors.setdefault(str(key), []).append(MESSAGE_UNKNOWN_ITEM)
            continue
        if value is None:
            continue
        item = items[key]
        if item["type"] == "choice":
            message = _check_choice(item, value)
        else:
            message = _check_integer(item, value)
        if message is not None:
            errors.setdefault(key, []).append(message)
    if require_all_required:
        for code, item in items.items():
            if item["required"] and answers.get(code) is None:
                errors.setdefault(code, []).append(MESSAGE_REQUIRED)
    return errors
