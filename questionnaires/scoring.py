"""Score questionnaire answers: pure functions, answers in, score out (no Django, no database).

Every rule here comes from docs/clinical-reference.md §1. Answers are plain dicts of item
code -> value; a missing key or ``None`` means the item was not answered. Scorers read only the
items they score and raise ``ScoringError`` on a value of the wrong type or outside its range:
answers must pass ``questionnaires.validation.validate_answers`` first, and garbage is never scored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FLAGS",
    "INCOMPLETE_WITH_SYMPTOMS",
    "ITEM9_POSITIVE",
    "ITEM9_UNANSWERED",
    "SIGNS_WITHOUT_SYMPTOMS",
    "SYMPTOMS_WITHOUT_SIGNS",
    "Score",
    "Scorer",
    "ScoringError",
    "UnknownScoringError",
    "get_scorer",
    "grade_symptoms",
    "is_registered",
    "normalise_bpns_paper_value",
    "register",
    "registered_keys",
    "score",
    "score_definition",
]


# The flags a score may carry; the decision table and the services read these names only.
ITEM9_POSITIVE = "item9_positive"  # PHQ-9 item 9 answered >= 1
ITEM9_UNANSWERED = "item9_unanswered"  # PHQ-9 item 9 left blank: a positive flag, never 0
# An invalid NEURO-SX/BPNS with a severity >= 1 answered: its grade is a lower bound.
INCOMPLETE_WITH_SYMPTOMS = "incomplete_with_symptoms"
SYMPTOMS_WITHOUT_SIGNS = "symptoms_without_signs"  # BPNS
SIGNS_WITHOUT_SYMPTOMS = "signs_without_symptoms"  # BPNS
FLAGS = frozenset(
    {
        ITEM9_POSITIVE,
        ITEM9_UNANSWERED,
        INCOMPLETE_WITH_SYMPTOMS,
        SYMPTOMS_WITHOUT_SIGNS,
        SIGNS_WITHOUT_SYMPTOMS,
    }
)


class ScoringError(ValueError):
    """An answer cannot be scored (wrong type or out of range): validate before scoring."""


class UnknownScoringError(LookupError):
    """No scorer is registered for this scoring key and version."""


@dataclass(frozen=True)
class Score:
    """The outcome of scoring one response.

    ``total`` and ``band`` are ``None`` when the instrument has none (NEURO-SX, BPNS) or the form
    is invalid. ``flags`` are kept on invalid forms too (an unanswered PHQ-9 item 9 must reach a
    clinician whatever else is missing). On an invalid NEURO-SX or BPNS flagged
    ``incomplete_with_symptoms``, ``grade`` is a lower bound (the grade of the highest answered
    severity) and a BPNS ``case`` is True or None, never False (see ``score_bpns``).
    """

    total: int | None
    band: str | None
    flags: tuple[str, ...]
    prorated: bool
    valid: bool
    grade: int | None = None
    case: bool | None = None
    invalid_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the score as a JSON-ready dict (the API's ``score`` object)."""
        return {
            "total": self.total,
            "band": self.band,
            "flags": list(self.flags),
            "prorated": self.prorated,
            "valid": self.valid,
            "grade": self.grade,
            "case": self.case,
            "invalid_reason": self.invalid_reason,
        }

    @classmethod
    def from_dict(cls, data: object) -> Score:
        """Read a stored score (``as_dict``) back, tolerating damaged or older rows.

        A field of the wrong type reads as absent (``None``, no flags, invalid), never as a
        number: a stored row that cannot be read must not look like a benign score. Flags are
        kept as stored, known or not.
        """
        values: Mapping[str, Any] = data if isinstance(data, Mapping) else {}

        def whole(key: str) -> int | None:
            value = values.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def text(key: str) -> str | None:
            value = values.get(key)
            return value if isinstance(value, str) else None

        flags = values.get("flags")
        case = values.get("case")
        return cls(
            total=whole("total"),
            band=text("band"),
            flags=tuple(str(flag) for flag in flags) if isinstance(flags, list) else (),
            prorated=values.get("prorated") is True,
            valid=values.get("valid") is True,
            grade=whole("grade"),
            case=case if isinstance(case, bool) else None,
            invalid_reason=text("invalid_reason"),
        )


@dataclass(frozen=True)
class Scorer:
    """A registered scoring function and the items it reads (code -> value domain)."""

    key: str
    version: int
    items: Mapping[str, tuple[str, Any]]
    function: Callable[[Mapping[str, Any]], Score]


_REGISTRY: dict[tuple[str, int], Scorer] = {}


def register(
    key: str, version: int, items: Mapping[str, tuple[str, Any]]
) -> Callable[[Callable[[Mapping[str, Any]], Score]], Callable[[Mapping[str, Any]], Score]]:
    """Register a scoring function for a scoring key and version; refuse duplicates."""

    def decorate(
        function: Callable[[Mapping[str, Any]], Score],
    ) -> Callable[[Mapping[str, Any]], Score]:
        if (key, version) in _REGISTRY:
            raise ValueError(f"a scorer for {key} v{version} is already registered")
        _REGISTRY[(key, version)] = Scorer(key, version, dict(items), function)
        return function

    return decorate


def is_registered(key: str, version: int) -> bool:
    """Tell whether a scorer exists for this scoring key and version."""
    return (key, version) in _REGISTRY


def registered_keys() -> list[tuple[str, int]]:
    """List the registered (scoring key, version) pairs, sorted."""
    return sorted(_REGISTRY)


def get_scorer(key: str, version: int) -> Scorer:
    """Return the scorer for a scoring key and version, or raise ``UnknownScoringError``."""
    try:
        return _REGISTRY[(key, version)]
    except KeyError:
        raise UnknownScoringError(f"no scorer registered for {key!r} version {version}") from None


def score(code: str, version: int, answers: Mapping[str, Any]) -> Score:
    """Score answers with the scorer registered for a scoring key and version."""
    if not isinstance(answers, Mapping):
        raise ScoringError("answers must be a mapping of item code to value")
    return get_scorer(code, version).function(answers)


def score_definition(definition: Mapping[str, Any], answers: Mapping[str, Any]) -> Score:
    """Score answers to an instrument definition with the scorer it names."""
    return score(definition["scoring"], definition.get("scoring_version", 1), answers)


# --- helpers -------------------------------------------------------------------------------------


def _read_int(answers: Mapping[str, Any], code: str, low: int, high: int) -> int | None:
    """Return an integer answer in [low, high], None if unanswered; raise on anything else."""
    value = answers.get(code)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScoringError(f"{code}: expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ScoringError(f"{code}: {value} is outside {low}..{high}")
    return value


def _read_choice(answers: Mapping[str, Any], code: str, allowed: tuple[str, ...]) -> str | None:
    """Return a string choice from ``allowed``, None if unanswered; raise on anything else."""
    value = answers.get(code)
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ScoringError(f"{code}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _divide_half_up(numerator: int, denominator: int) -> int:
    """Divide two non-negative integers, rounding exactly .5 up (integer arithmetic, no floats)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("half-up division needs numerator >= 0 and denominator > 0")
    return (2 * numerator + denominator) // (2 * denominator)


def _band(total: int, bands: tuple[tuple[int, str], ...]) -> str:
    """Return the name of the first band whose inclusive upper bound holds ``total``."""
    for upper, name in bands:
        if total <= upper:
            return name
    raise ScoringError(f"total {total} is above every band")


def _missing(values: Mapping[str, object]) -> list[str]:
    """List the item codes whose value is None, in item order."""
    return [code for code, value in values.items() if value is None]


# --- PHQ-9 ---------------------------------------------------------------------------------------

PHQ9_SCORED = tuple(f"phq9_{number}" for number in range(1, 10))
PHQ9_ITEM9 = "phq9_9"
# PHQ-9 bands (Kroenke 2001; docs/clinical-reference.md §1): inclusive upper bounds.
PHQ9_BANDS = (
    (4, "minimal"),
    (9, "mild"),
    (14, "moderate"),
    (19, "moderately_severe"),
    (27, "severe"),
)
# One or two missing items are prorated; more make the form invalid (NHS Data Dictionary, PHQ-9;
# docs/clinical-reference.md §1).
PHQ9_MAX_MISSING = 2


@register("PHQ-9", 1, {code: ("integer", (0, 3)) for code in PHQ9_SCORED})
def score_phq9(answers: Mapping[str, Any]) -> Score:
    """Score a PHQ-9: sum of items 1-9, prorated half up for one or two missing items."""
    values = {code: _read_int(answers, code, 0, 3) for code in PHQ9_SCORED}
    flags: list[str] = []
    item9 = values[PHQ9_ITEM9]
    # Item 9 >= 1 starts the suicide-risk pathway; unanswered is a positive flag, never 0
    # (Simon 2013; docs/clinical-reference.md §1).
    if item9 is None:
        flags.append(ITEM9_UNANSWERED)
    elif item9 >= 1:
        flags.append(ITEM9_POSITIVE)
    missing = _missing(values)
    if len(missing) > PHQ9_MAX_MISSING:
        return Score(
            total=None,
            band=None,
            flags=tuple(flags),
            prorated=False,
            valid=False,
            invalid_reason=(
                f"{len(missing)} of 9 scored items unanswered ({', '.join(missing)}); "
                f"at most {PHQ9_MAX_MISSING} may be prorated"
            ),
        )
    answered = [value for value in values.values() if value is not None]
    total = sum(answered)
    if missing:
        # Replace missing items by the mean of the answered ones, total rounded half up
        # (13 x 9 / 8 = 14.625 -> 15; docs/clinical-reference.md §1).
        total = _divide_half_up(total * len(PHQ9_SCORED), len(answered))
    return Score(
        total=total,
        band=_band(total, PHQ9_BANDS),
        flags=tuple(flags),
        prorated=bool(missing),
        valid=True,
    )


# --- GAD-7 ---------------------------------------------------------------------------------------

GAD7_SCORED = tuple(f"gad7_{number}" for number in range(1, 8))
# GAD-7 bands (Spitzer 2006; docs/clinical-reference.md §1): inclusive upper bounds.
GAD7_BANDS = (
    (4, "minimal"),
    (9, "mild"),
    (14, "moderate"),
    (21, "severe"),
)


@register("GAD-7", 1, {code: ("integer", (0, 3)) for code in GAD7_SCORED})
def score_gad7(answers: Mapping[str, Any]) -> Score:
    """Score a GAD-7: sum of items 1-7; any missing item makes it invalid."""
    values = {code: _read_int(answers, code, 0, 3) for code in GAD7_SCORED}
    missing = _missing(values)
    if missing:
        # No published prorating rule for GAD-7 (docs/clinical-reference.md §1).
        return Score(
            total=None,
            band=None,
            flags=(),
            prorated=False,
            valid=False,
            invalid_reason=f"unanswered scored items ({', '.join(missing)}); GAD-7 is not prorated",
        )
    total = sum(value for value in values.values() if value is not None)
    return Score(total=total, band=_band(total, GAD7_BANDS), flags=(), prorated=False, valid=True)


# --- Neuropathy: NEURO-SX (subject) and BPNS (clinician) ------------------------------------------

SYMPTOM_ITEMS = (
    "r_pain",
    "r_pins_needles",
    "r_numbness",
    "l_pain",
    "l_pins_needles",
    "l_numbness",
)
SYMPTOM_MAX = 10
VIBRATION_ITEMS = ("vibration_r", "vibration_l")
VIBRATION_MAX_SECONDS = 60
# Vibration <= 10 s is reduced (> 10 s normal; Cherry 2005; docs/clinical-reference.md §1).
VIBRATION_REDUCED_MAX_SECONDS = 10
REFLEX_ITEMS = ("reflex_r", "reflex_l")
REFLEX_VALUES = ("absent", "hypoactive", "normal", "hyperactive", "clonus")


def grade_symptoms(highest: int) -> int:
    """Return the subjective sensory neuropathy grade (0-3) for the highest severity (0-10)."""
    # Grade from the single highest severity: 0 -> 0, 1-3 -> 1, 4-6 -> 2, 7-10 -> 3
    # (ACTG BPNS; docs/clinical-reference.md §1).
    if not 0 <= highest <= SYMPTOM_MAX:
        raise ScoringError(f"severity {highest} is outside 0..{SYMPTOM_MAX}")
    if highest == 0:
        return 0
    if highest <= 3:
        return 1
    if highest <= 6:
        return 2
    return 3


def _grade_lower_bound(symptoms: Mapping[str, int | None]) -> int | None:
    """Return the grade of the highest answered severity if it is >= 1, else None.

    On an incomplete form the grade is taken from the single highest severity, so an answered
    severity s makes the grade at least ``grade_symptoms(s)`` whatever the unanswered items hold
    (docs/clinical-reference.md §1). With no answered severity >= 1 nothing is known (0 would be
    a guess).
    """
    answered = [value for value in symptoms.values() if value is not None]
    highest = max(answered, default=0)
    return grade_symptoms(highest) if highest >= 1 else None


@register("NEURO-SX", 1, {code: ("integer", (0, SYMPTOM_MAX)) for code in SYMPTOM_ITEMS})
def score_neuro_sx(answers: Mapping[str, Any]) -> Score:
    """Grade the neuropathy symptom screen from its highest severity; total and band are None.

    A form with an unanswered item is invalid (the reference gives no missing-data rule for the
    symptom screen; the phone requires every item, so only staff-entered forms can have gaps).
    If an answered severity is >= 1, the form is flagged ``incomplete_with_symptoms`` and its
    ``grade`` is the grade of the highest answered severity: a LOWER BOUND of the true grade,
    since the grade comes from the single highest severity (docs/clinical-reference.md §1) and an
    unanswered item can only raise it. Otherwise ``grade`` is None (unknown).
    """
    symptoms = {code: _read_int(answers, code, 0, SYMPTOM_MAX) for code in SYMPTOM_ITEMS}
    missing = _missing(symptoms)
    if missing:
        lower_bound = _grade_lower_bound(symptoms)
        return Score(
            total=None,
            band=None,
            flags=(INCOMPLETE_WITH_SYMPTOMS,) if lower_bound is not None else (),
            prorated=False,
            valid=False,
            grade=lower_bound,
            invalid_reason=f"unanswered items ({', '.join(missing)})",
        )
    highest = max(value for value in symptoms.values() if value is not None)
    return Score(
        total=None,
        band=None,
        flags=(),
        prorated=False,
        valid=True,
        grade=grade_symptoms(highest),
    )


@register(
    "BPNS",
    1,
    {code: ("integer", (0, SYMPTOM_MAX)) for code in SYMPTOM_ITEMS}
    | {code: ("integer", (0, VIBRATION_MAX_SECONDS)) for code in VIBRATION_ITEMS}
    | {code: ("choice", REFLEX_VALUES) for code in REFLEX_ITEMS},
)
def score_bpns(answers: Mapping[str, Any]) -> Score:
    """Grade the BPNS symptoms and decide the case definition (symptoms and bilateral signs).

    A form with an unanswered item is invalid. Its ``grade`` is then, as for NEURO-SX, the grade
    of the highest answered severity when one is >= 1 (flag ``incomplete_with_symptoms``): a
    LOWER BOUND of the true grade; else None. Its ``case`` is True only when the answered items
    already meet the case definition whatever the unanswered ones hold (grade lower bound >= 1
    and both vibration times answered and <= 10 s, or both reflexes answered and absent); else
    None (unknown), never False.
    """
    symptoms = {code: _read_int(answers, code, 0, SYMPTOM_MAX) for code in SYMPTOM_ITEMS}
    vibration = {
        code: _read_int(answers, code, 0, VIBRATION_MAX_SECONDS) for code in VIBRATION_ITEMS
    }
    reflexes = {code: _read_choice(answers, code, REFLEX_VALUES) for code in REFLEX_ITEMS}
    # Case (Cherry et al., Neurology 2005; docs/clinical-reference.md §1): grade >= 1 with
    # bilaterally reduced vibration (<= 10 s both sides, 0 = not felt) or bilaterally absent ankle
    # reflexes.
    # An unanswered sign is not reduced/absent, so on an incomplete form these are "certainly".
    vibration_reduced = all(
        value is not None and value <= VIBRATION_REDUCED_MAX_SECONDS for value in vibration.values()
    )
    reflexes_absent = all(value == "absent" for value in reflexes.values())
    signs = vibration_reduced or reflexes_absent
    missing = _missing(symptoms) + _missing(vibration) + _missing(reflexes)
    if missing:
        lower_bound = _grade_lower_bound(symptoms)
        return Score(
            total=None,
            band=None,
            flags=(INCOMPLETE_WITH_SYMPTOMS,) if lower_bound is not None else (),
            prorated=False,
            valid=False,
            grade=lower_bound,
            case=True if lower_bound is not None and signs else None,
            invalid_reason=f"unanswered items ({', '.join(missing)})",
        )
    grade = grade_symptoms(max(value for value in symptoms.values() if value is not None))
    case = grade >= 1 and signs
    flags: list[str] = []
    if grade >= 1 and not signs:
        # Symptoms alone are a positive symptom screen, not a case (docs/clinical-reference.md §1).
        flags.append(SYMPTOMS_WITHOUT_SIGNS)
    if grade == 0 and signs:
        flags.append(SIGNS_WITHOUT_SYMPTOMS)
    return Score(
        total=None,
        band=None,
        flags=tuple(flags),
        prorated=False,
        valid=True,
        grade=grade,
        case=case,
    )


# --- imports of paper forms ----------------------------------------------------------------------

# Paper BPNS codes 00 ("currently absent") and 11 ("always normal") both mean no symptom and are
# stored as 0; 11 is the highest number but means normal (docs/clinical-reference.md §1).
_PAPER_NORMAL_CODES = frozenset({"00", "11"})


def normalise_bpns_paper_value(value: object) -> int:
    """Convert a paper BPNS symptom code ("00", "11", "0".."10" or an int) to a 0-10 severity."""
    if isinstance(value, bool):
        raise ValueError(f"not a BPNS paper code: {value!r}")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"not a BPNS paper code: {value!r}")
    if text in _PAPER_NORMAL_CODES:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > 2:
        raise ValueError(f"not a BPNS paper code: {value!r}")
    severity = int(text)
    if severity > SYMPTOM_MAX:
        raise ValueError(f"not a BPNS paper code: {value!r}")
    return severity
