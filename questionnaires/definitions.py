"""Load, check and localise the versioned instrument definitions (pure: no Django, no database).

A definition is one JSON file ``instruments/<code>.v<version>.json``::

    {"code", "version", "title": {lang: str}, "kind": "self_report" | "clinician",
     "loinc": {"panel", "total"} | null, "recall_period": "P14D" | null, "copyright",
     "preamble": {lang: str}, "scoring": "<scoring key>", "scoring_version"?: int (default 1),
     "items": [{"code", "loinc", "type": "choice" | "integer",
                "options": [{"value", "label": {lang: str}, "loinc"}]   (choice only),
                "min", "max"                                          (integer only),
                "required", "scored", "text": {lang: str}}]}

Every text is a dict keyed by language tag and must hold English ("en"), the fallback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TypeGuard

from questionnaires import scoring

__all__ = [
    "DEFAULT_DIRECTORY",
    "DefinitionError",
    "FALLBACK_LANGUAGE",
    "definition_checksum",
    "load_definitions",
    "localise",
    "validate_definition",
]

DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "instruments"
FALLBACK_LANGUAGE = "en"
KINDS = ("self_report", "clinician")
ITEM_TYPES = ("choice", "integer")
TOP_LEVEL_KEYS = frozenset(
    {
        "code",
        "version",
        "title",
        "kind",
        "loinc",
        "recall_period",
        "copyright",
        "preamble",
        "scoring",
        "items",
    }
)
# A new definition version that only adds translations or rewords texts keeps its scorer: the
# scorer is chosen by (scoring, scoring_version), not by the definition's own version.
OPTIONAL_TOP_LEVEL_KEYS = frozenset({"scoring_version"})
ITEM_KEYS = {
    "choice": frozenset({"code", "loinc", "type", "options", "required", "scored", "text"}),
    "integer": frozenset({"code", "loinc", "type", "min", "max", "required", "scored", "text"}),
}
OPTION_KEYS = frozenset({"value", "label", "loinc"})


class DefinitionError(ValueError):
    """An instrument definition file is malformed; the message lists every problem."""


def _is_int(value: object) -> TypeGuard[int]:
    """Tell whether a value is an int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_texts(value: object, where: str, problems: list[str]) -> None:
    """Check a language -> text dict that holds at least English."""
    if not isinstance(value, dict) or not value:
        problems.append(f"{where}: must be a non-empty object of language -> text")
        return
    for language, text in value.items():
        if not isinstance(language, str) or not language:
            problems.append(f"{where}: language keys must be non-empty strings")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}[{language}]: must be a non-empty string")
    if FALLBACK_LANGUAGE not in value:
        problems.append(f"{where}: English ({FALLBACK_LANGUAGE!r}) text is required")


def _check_optional_code(value: object, where: str, problems: list[str]) -> None:
    """Check an optional code (a LOINC code or None)."""
    if value is not None and (not isinstance(value, str) or not value):
        problems.append(f"{where}: must be a non-empty string or null")


def _check_item(item: object, index: int, problems: list[str]) -> None:
    """Check one item's shape: keys, type, options or range, flags and text."""
    where = f"items[{index}]"
    if not isinstance(item, dict):
        problems.append(f"{where}: must be an object")
        return
    code = item.get("code")
    if not isinstance(code, str) or not code:
        problems.append(f"{where}.code: must be a non-empty string")
    else:
        where = f"items[{index}] ({code})"
    item_type = item.get("type")
    if item_type not in ITEM_TYPES:
        problems.append(f"{where}.type: must be one of {', '.join(ITEM_TYPES)}")
        return
    keys = set(item)
    if keys != ITEM_KEYS[item_type]:
        missing = sorted(ITEM_KEYS[item_type] - keys)
        extra = sorted(keys - ITEM_KEYS[item_type])
        problems.append(f"{where}: {item_type} item keys wrong (missing {missing}, extra {extra})")
    _check_optional_code(item.get("loinc"), f"{where}.loinc", problems)
    for flag in ("required", "scored"):
        if not isinstance(item.get(flag), bool):
            problems.append(f"{where}.{flag}: must be true or false")
    _check_texts(item.get("text"), f"{where}.text", problems)
    if item_type == "choice":
        options = item.get("options")
        if not isinstance(options, list) or not options:
            problems.append(f"{where}.options: a choice item needs a non-empty list of options")
            return
        seen: set[tuple[type, object]] = set()
        for number, option in enumerate(options):
            at = f"{where}.options[{number}]"
            if not isinstance(option, dict) or set(option) != OPTION_KEYS:
                problems.append(f"{at}: must be an object with keys {sorted(OPTION_KEYS)}")
                continue
            value = option["value"]
            if not (_is_int(value) or (isinstance(value, str) and value)):
                problems.append(f"{at}.value: must be an integer or a non-empty string")
            elif (type(value), value) in seen:
                problems.append(f"{at}.value: duplicate value {value!r}")
            else:
                seen.add((type(value), value))
            _check_texts(option["label"], f"{at}.label", problems)
            _check_optional_code(option["loinc"], f"{at}.loinc", problems)
        if len({kind for kind, _ in seen}) > 1:
            problems.append(f"{where}.options: values must be all integers or all strings")
    else:
        low, high = item.get("min"), item.get("max")
        if not (_is_int(low) and _is_int(high)):
            problems.append(f"{where}: an integer item needs integer min and max")
        elif low > high:
            problems.append(f"{where}: min {low} is greater than max {high}")


def _domain(item: dict[str, Any]) -> tuple[str, Any]:
    """Return an item's value domain in the scorer's terms."""
    if item["type"] == "integer":
        return ("integer", (item["min"], item["max"]))
    values = [option["value"] for option in item["options"]]
    if all(_is_int(value) for value in values) and sorted(values) == list(
        range(min(values), max(values) + 1)
    ):
        return ("integer", (min(values), max(values)))
    return ("choice", tuple(values))


def _check_against_scorer(definition: dict[str, Any], problems: list[str]) -> None:
    """Check the scoring key is registered and the scored items match what the scorer reads."""
    key, version = definition.get("scoring"), definition.get("scoring_version", 1)
    if not isinstance(key, str) or not _is_int(version):
        problems.append("scoring: must be a string (and scoring_version an integer)")
        return
    if not scoring.is_registered(key, version):
        problems.append(f"scoring: no scorer registered for {key!r} version {version}")
        return
    expected = scoring.get_scorer(key, version).items
    scored = {item["code"]: item for item in definition["items"] if item.get("scored") is True}
    if set(scored) != set(expected):
        problems.append(
            f"scoring: scored items {sorted(scored)} differ from the items the {key} "
            f"v{version} scorer reads {sorted(expected)}"
        )
        return
    for code, item in scored.items():
        domain = _domain(item)
        wanted = expected[code]
        if (domain[0], tuple(domain[1])) != (wanted[0], tuple(wanted[1])):
            problems.append(f"items ({code}): values {domain} differ from the scorer's {wanted}")


def validate_definition(definition: object) -> list[str]:
    """Return every structural problem of a definition (an empty list when it is sound)."""
    if not isinstance(definition, dict):
        return ["the definition must be a JSON object"]
    problems: list[str] = []
    keys = set(definition)
    if not TOP_LEVEL_KEYS <= keys <= TOP_LEVEL_KEYS | OPTIONAL_TOP_LEVEL_KEYS:
        problems.append(
            f"top-level keys wrong (missing {sorted(TOP_LEVEL_KEYS - keys)}, "
            f"extra {sorted(keys - TOP_LEVEL_KEYS - OPTIONAL_TOP_LEVEL_KEYS)})"
        )
    code = definition.get("code")
    if not isinstance(code, str) or not code:
        problems.append("code: must be a non-empty string")
    version = definition.get("version")
    if not _is_int(version) or version < 1:
        problems.append("version: must be an integer >= 1")
    _check_texts(definition.get("title"), "title", problems)
    _check_texts(definition.get("preamble"), "preamble", problems)
    if definition.get("kind") not in KINDS:
        problems.append(f"kind: must be one of {', '.join(KINDS)}")
    loinc = definition.get("loinc")
    if loinc is not None:
        if not isinstance(loinc, dict) or set(loinc) != {"panel", "total"}:
            problems.append("loinc: must be null or an object with keys panel and total")
        else:
            _check_optional_code(loinc["panel"], "loinc.panel", problems)
            _check_optional_code(loinc["total"], "loinc.total", problems)
    recall = definition.get("recall_period")
    if recall is not None and (not isinstance(recall, str) or not recall.startswith("P")):
        problems.append("recall_period: must be null or an ISO 8601 duration such as P14D")
    if not isinstance(definition.get("copyright"), str):
        problems.append("copyright: must be a string")
    items = definition.get("items")
    if not isinstance(items, list) or not items:
        problems.append("items: must be a non-empty list")
        return problems
    item_problems: list[str] = []
    for index, item in enumerate(items):
        _check_item(item, index, item_problems)
    codes = [item.get("code") for item in items if isinstance(item, dict)]
    duplicates = sorted({c for c in codes if isinstance(c, str) and codes.count(c) > 1})
    if duplicates:
        item_problems.append(f"items: duplicate item codes {duplicates}")
    problems.extend(item_problems)
    if not item_problems:
        _check_against_scorer(definition, problems)
    return problems


def load_definitions(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """Read and check every ``*.json`` definition in a directory; raise ``DefinitionError``."""
    folder = Path(directory) if directory is not None else DEFAULT_DIRECTORY
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise DefinitionError(f"no instrument definitions (*.json) in {folder}")
    definitions: list[dict[str, Any]] = []
    seen: dict[tuple[str, int], str] = {}
    for path in paths:
        try:
            definition = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DefinitionError(f"{path.name}: cannot read JSON: {error}") from error
        problems = validate_definition(definition)
        if not problems:
            expected_name = f"{definition['code']}.v{definition['version']}.json"
            if path.name != expected_name:
                problems.append(f"file name must be {expected_name}")
            identity = (definition["code"], definition["version"])
            if identity in seen:
                problems.append(f"{identity[0]} v{identity[1]} is also defined in {seen[identity]}")
            seen[identity] = path.name
        if problems:
            raise DefinitionError(f"{path.name}: " + "; ".join(problems))
        definitions.append(definition)
    return sorted(definitions, key=lambda d: (d["code"], d["version"]))


def _candidates(language: object) -> list[str]:
    """Return the language tags to try, most specific first (``pt-BR`` -> ``pt-BR``, ``pt``)."""
    if not isinstance(language, str) or not language.strip():
        return []
    tag = language.strip().replace("_", "-")
    primary = tag.split("-")[0]
    return [tag] if primary == tag else [tag, primary]


def _pick(texts: dict[str, str], candidates: list[str]) -> tuple[str, str]:
    """Return (text, language) for the first candidate present (case-insensitive), else English."""
    folded = {key.casefold(): key for key in texts}
    for candidate in candidates:
        key = folded.get(candidate.casefold())
        if key is not None:
            return texts[key], key
    return texts[FALLBACK_LANGUAGE], FALLBACK_LANGUAGE


def localise(definition: dict[str, Any], language: str) -> tuple[dict[str, Any], str]:
    """Render a definition in the API's shape for one language, falling back to English per text.

    Each text (title, preamble, item text, option label) is looked up on its own: the requested
    tag, then its primary subtag (``pt-BR`` -> ``pt``), then English. The language returned as
    served is the most specific requested tag that supplied at least one text, else ``"en"``; a
    partial translation is therefore served as that language with English filling its gaps.
    """
    candidates = _candidates(language)
    used: list[str] = []

    def pick(texts: dict[str, str]) -> str:
        text, served_by = _pick(texts, candidates)
        used.append(served_by)
        return text

    items = []
    for item in definition["items"]:
        rendered: dict[str, Any] = {"code": item["code"], "text": pick(item["text"])}
        rendered["type"] = item["type"]
        if item["type"] == "choice":
            rendered["options"] = [
                {"value": option["value"], "label": pick(option["label"])}
                for option in item["options"]
            ]
        else:
            rendered["min"] = item["min"]
            rendered["max"] = item["max"]
        rendered["required"] = item["required"]
        rendered["scored"] = item["scored"]
        items.append(rendered)
    rendered_definition = {
        "code": definition["code"],
        "version": definition["version"],
        "title": pick(definition["title"]),
        "kind": definition["kind"],
        "preamble": pick(definition["preamble"]),
        "recall_period": definition["recall_period"],
        "items": items,
    }
    served = next(
        (tag for candidate in candidates for tag in used if tag.casefold() == candidate.casefold()),
        FALLBACK_LANGUAGE,
    )
    return rendered_definition, served


def definition_checksum(definition: dict[str, Any]) -> str:
    """Return the sha256 hex digest of the definition's canonical JSON (sorted keys, compact)."""
    canonical = json.dumps(
        definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def served_language(definition: dict[str, Any], language: str) -> str:
    """Return the language a definition is shown in for a requested language (see ``localise``)."""
    return localise(definition, language)[1]


def has_translation(definition: dict[str, Any], language: str) -> bool:
    """Tell whether the definition supplies any text in the language (English always does)."""
    primary = (language or FALLBACK_LANGUAGE).replace("_", "-").split("-")[0].casefold()
    return (
        primary == FALLBACK_LANGUAGE or served_language(definition, language) != FALLBACK_LANGUAGE
    )
