"""Answer validation: one message on the right item for each kind of bad input, never a crash."""

import itertools
import json
import math
import random

import pytest

from questionnaires.definitions import load_definitions
from questionnaires.validation import (
    MESSAGE_EXPECTED_INTEGER,
    MESSAGE_EXPECTED_STRING,
    MESSAGE_NOT_AN_OBJECT,
    MESSAGE_REQUIRED,
    MESSAGE_UNKNOWN_ITEM,
    validate_answers,
)

DEFINITIONS = {d["code"]: d for d in load_definitions()}
PHQ9 = DEFINITIONS["PHQ-9"]
BPNS = DEFINITIONS["BPNS"]
PHQ9_OPTIONS = "Not one of the options: 0, 1, 2, 3."
REFLEX_OPTIONS = "Not one of the options: absent, hypoactive, normal, hyperactive, clonus."


def complete_phq9(**changes):
    answers = {f"phq9_{n}": 0 for n in range(1, 10)}
    answers.update(changes)
    return answers


def complete_bpns(**changes):
    answers = {
        "r_pain": 0,
        "r_pins_needles": 0,
        "r_numbness": 0,
        "l_pain": 0,
        "l_pins_needles": 0,
        "l_numbness": 0,
        "vibration_r": 12,
        "vibration_l": 12,
        "reflex_r": "normal",
        "reflex_l": "normal",
    }
    answers.update(changes)
    return answers


@pytest.mark.parametrize("require", [True, False])
def test_complete_answers_are_valid(require):
    assert validate_answers(PHQ9, complete_phq9(phq9_10=3), require_all_required=require) == {}
    assert validate_answers(BPNS, complete_bpns(), require_all_required=require) == {}


@pytest.mark.parametrize("answers", [None, [], [1, 2], "phq9_1", 0, 1.5, True])
def test_answers_not_an_object(answers):
    assert validate_answers(PHQ9, answers, require_all_required=True) == {
        "answers": [MESSAGE_NOT_AN_OBJECT]
    }


@pytest.mark.parametrize(
    ("answers", "errors"),
    [
        (complete_phq9(phq9_11=0), {"phq9_11": [MESSAGE_UNKNOWN_ITEM]}),
        (complete_phq9(PHQ9_1=0), {"PHQ9_1": [MESSAGE_UNKNOWN_ITEM]}),
        (complete_phq9(phq9_1=True), {"phq9_1": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_phq9(phq9_1=False), {"phq9_1": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_phq9(phq9_2="1"), {"phq9_2": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_phq9(phq9_3=1.0), {"phq9_3": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_phq9(phq9_4=[1]), {"phq9_4": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_phq9(phq9_5={"value": 1}), {"phq9_5": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_phq9(phq9_6=4), {"phq9_6": [PHQ9_OPTIONS]}),
        (complete_phq9(phq9_7=-1), {"phq9_7": [PHQ9_OPTIONS]}),
        (complete_phq9(phq9_9=10**100), {"phq9_9": [PHQ9_OPTIONS]}),
        (complete_phq9(phq9_10=4), {"phq9_10": [PHQ9_OPTIONS]}),
        (complete_bpns(r_pain=11), {"r_pain": ["Must be between 0 and 10."]}),
        (complete_bpns(l_numbness=-1), {"l_numbness": ["Must be between 0 and 10."]}),
        (complete_bpns(vibration_r=61), {"vibration_r": ["Must be between 0 and 60."]}),
        (complete_bpns(vibration_l=5.5), {"vibration_l": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_bpns(vibration_l=True), {"vibration_l": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_bpns(r_numbness="3"), {"r_numbness": [MESSAGE_EXPECTED_INTEGER]}),
        (complete_bpns(reflex_r="Absent"), {"reflex_r": [REFLEX_OPTIONS]}),
        (complete_bpns(reflex_r="reduced"), {"reflex_r": [REFLEX_OPTIONS]}),
        (complete_bpns(reflex_l=0), {"reflex_l": [MESSAGE_EXPECTED_STRING]}),
        (complete_bpns(reflex_l=["absent"]), {"reflex_l": [MESSAGE_EXPECTED_STRING]}),
    ],
)
@pytest.mark.parametrize("require", [True, False])
def test_bad_answer_gives_one_message_on_its_item(answers, errors, require):
    definition = PHQ9 if "phq9_1" in answers else BPNS
    assert validate_answers(definition, answers, require_all_required=require) == errors


def test_missing_required_items_are_errors_on_the_phone():
    answers = complete_phq9()
    del answers["phq9_9"]
    answers["phq9_2"] = None
    assert validate_answers(PHQ9, answers, require_all_required=True) == {
        "phq9_2": [MESSAGE_REQUIRED],
        "phq9_9": [MESSAGE_REQUIRED],
    }


def test_missing_items_are_allowed_for_staff_forms():
    assert validate_answers(PHQ9, {"phq9_1": 2, "phq9_9": None}, require_all_required=False) == {}


def test_missing_optional_item_is_not_required_on_the_phone():
    assert validate_answers(PHQ9, complete_phq9(phq9_10=None), require_all_required=True) == {}


def test_empty_answers_on_the_phone_list_every_required_item():
    assert validate_answers(BPNS, {}, require_all_required=True) == {
        item["code"]: [MESSAGE_REQUIRED] for item in BPNS["items"]
    }


def test_several_problems_are_each_on_their_item():
    answers = complete_phq9(phq9_1="x", phq9_2=9, extra=1)
    del answers["phq9_3"]
    assert validate_answers(PHQ9, answers, require_all_required=True) == {
        "phq9_1": [MESSAGE_EXPECTED_INTEGER],
        "phq9_2": [PHQ9_OPTIONS],
        "extra": [MESSAGE_UNKNOWN_ITEM],
        "phq9_3": [MESSAGE_REQUIRED],
    }


ODD_VALUES = [
    None,
    True,
    False,
    0,
    -0,
    1,
    3,
    -1,
    10**400,
    -(10**400),
    0.0,
    1.5,
    1e308,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "0",
    "NaN",
    "Infinity",
    "absent",
    "\u0000",
    "ünïcode",
    [],
    [0],
    {},
    {"phq9_1": 0},
    {"a": {"b": [None]}},
]


@pytest.mark.parametrize("definition", list(DEFINITIONS.values()), ids=list(DEFINITIONS))
def test_fuzz_never_raises_and_returns_lists_of_strings(definition):
    rng = random.Random(20240611)
    codes = [item["code"] for item in definition["items"]] + ["", "unknown", "__proto__"]
    for value in ODD_VALUES:
        for answers in ([value], {"x": value}, value, json.loads(json.dumps([value]))):
            _check_shape(validate_answers(definition, answers, require_all_required=True))
    for _ in range(500):
        answers = {rng.choice(codes): rng.choice(ODD_VALUES) for _ in range(rng.randint(0, 12))}
        for require in (True, False):
            _check_shape(validate_answers(definition, answers, require_all_required=require))


def _check_shape(errors):
    assert isinstance(errors, dict)
    for key, messages in errors.items():
        assert isinstance(key, str)
        assert messages and all(isinstance(m, str) for m in messages)


def test_fuzz_valid_answers_pass_and_only_valid_answers_pass():
    """Every combination for one item: exactly the option values are accepted."""
    accepted = [
        value
        for value in itertools.chain(ODD_VALUES, [2, "2", 2.0])
        if validate_answers(PHQ9, {"phq9_1": value}, require_all_required=False) == {}
    ]
    assert accepted == [None, 0, 0, 1, 3, 2]
