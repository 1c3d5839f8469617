"""FHIR R4 Questionnaire rendering, validated with fhir.resources (R4B = the R4 structure)."""

import copy

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from questionnaires.definitions import load_definitions
from questionnaires.fhir import (
    LOCAL_OBSERVATION_SYSTEM,
    LOINC_SYSTEM,
    MAX_VALUE_URL,
    MIN_VALUE_URL,
    ORDINAL_VALUE_URL,
    SCORE_LINK_IDS,
    to_fhir_questionnaire,
)

DEFINITIONS = {d["code"]: d for d in load_definitions()}
CODES = list(DEFINITIONS)


def answer_items(resource):
    """The items answered by the subject (not the read-only score items after them)."""
    return [item for item in resource["item"] if not item.get("readOnly")]


def ordinals(option):
    return [e["valueDecimal"] for e in option.get("extension", []) if e["url"] == ORDINAL_VALUE_URL]


@pytest.mark.parametrize("code", CODES)
def test_questionnaire_validates_as_fhir_r4(code):
    resource = to_fhir_questionnaire(DEFINITIONS[code])
    parsed = Questionnaire.model_validate(resource)
    assert parsed.model_dump(mode="json", exclude_none=True) == resource


def _drop_link_id(resource):
    del resource["item"][0]["linkId"]


def _add_unknown_field(resource):
    resource["item"][0]["bogus"] = 1


def _break_ordinal(resource):
    resource["item"][0]["answerOption"][0]["extension"][0]["valueDecimal"] = "x"


@pytest.mark.parametrize("mutate", [_drop_link_id, _add_unknown_field, _break_ordinal])
def test_invalid_resource_is_refused_by_the_validator(mutate):
    """Guard the test above: the validator does refuse a broken Questionnaire.

    fhir.resources does not check code-valued enums (status, item type), so those are asserted
    on their own below.
    """
    resource = to_fhir_questionnaire(DEFINITIONS["PHQ-9"])
    mutate(resource)
    with pytest.raises(ValueError):
        Questionnaire.model_validate(resource)


@pytest.mark.parametrize("code", CODES)
def test_status_and_item_types_are_fhir_codes(code):
    resource = to_fhir_questionnaire(DEFINITIONS[code])
    # publication-status and item-type value sets (FHIR R4).
    assert resource["status"] in {"draft", "active", "retired", "unknown"}
    assert {item["type"] for item in answer_items(resource)} <= {"choice", "integer"}
    assert {item["type"] for item in resource["item"]} <= {"choice", "integer", "boolean"}


@pytest.mark.parametrize("code", CODES)
def test_link_ids_equal_item_codes(code):
    resource = to_fhir_questionnaire(DEFINITIONS[code])
    assert [i["linkId"] for i in answer_items(resource)] == [
        i["code"] for i in DEFINITIONS[code]["items"]
    ]


@pytest.mark.parametrize("code", CODES)
def test_ordinal_values_equal_scoring_values(code):
    definition = DEFINITIONS[code]
    resource = to_fhir_questionnaire(definition)
    found = {
        item["linkId"]: [ordinals(option) for option in item["answerOption"]]
        for item in answer_items(resource)
        if item["type"] == "choice"
    }
    expected = {
        item["code"]: [
            [option["value"]] if item["scored"] and isinstance(option["value"], int) else []
            for option in item["options"]
        ]
        for item in definition["items"]
        if item["type"] == "choice"
    }
    assert found == expected


@pytest.mark.parametrize("code", ["PHQ-9", "GAD-7"])
def test_frequency_items_ordinals_0_to_3_with_loinc_answers(code):
    resource = to_fhir_questionnaire(DEFINITIONS[code])
    scored = answer_items(resource)[:-1]
    for item in scored:
        assert [(o["valueCoding"]["code"], ordinals(o)) for o in item["answerOption"]] == [
            ("LA6568-5", [0]),
            ("LA6569-3", [1]),
            ("LA6570-1", [2]),
            ("LA6571-9", [3]),
        ]


def test_phq9_header_and_first_item():
    resource = to_fhir_questionnaire(DEFINITIONS["PHQ-9"])
    assert {k: v for k, v in resource.items() if k not in ("item", "description", "copyright")} == {
        "resourceType": "Questionnaire",
        "id": "phq-9-v1",
        "language": "en",
        "url": "urn:cycloserine-screening:questionnaire:PHQ-9",
        "version": "1",
        "name": "PHQ_9",
        "title": "Patient Health Questionnaire (PHQ-9)",
        "status": "active",
        "subjectType": ["Patient"],
        "code": [
            {
                "system": "http://loinc.org",
                "code": "44249-1",
                "display": "Patient Health Questionnaire (PHQ-9)",
            }
        ],
    }
    first = resource["item"][0]
    assert first == {
        "linkId": "phq9_1",
        "code": [
            {
                "system": "http://loinc.org",
                "code": "44250-9",
                "display": "Little interest or pleasure in doing things",
            }
        ],
        "text": "Little interest or pleasure in doing things",
        "type": "choice",
        "required": True,
        "answerOption": [
            {
                "valueCoding": {"system": "http://loinc.org", "code": la, "display": label},
                "extension": [{"url": ORDINAL_VALUE_URL, "valueDecimal": value}],
            }
            for value, (la, label) in enumerate(
                [
                    ("LA6568-5", "Not at all"),
                    ("LA6569-3", "Several days"),
                    ("LA6570-1", "More than half the days"),
                    ("LA6571-9", "Nearly every day"),
                ]
            )
        ],
    }


def test_phq9_item10_is_optional_without_ordinals():
    item10 = to_fhir_questionnaire(DEFINITIONS["PHQ-9"])["item"][9]
    assert (item10["linkId"], item10["required"], item10["code"][0]["code"]) == (
        "phq9_10",
        False,
        "69722-7",
    )
    # LOINC answer list LL359-1 (loinc.org), as clinical-reference §4 lists it.
    assert [
        (o["valueCoding"]["system"], o["valueCoding"]["code"], o["valueCoding"]["display"])
        for o in item10["answerOption"]
    ] == [
        (LOINC_SYSTEM, "LA6572-7", "Not difficult at all"),
        (LOINC_SYSTEM, "LA6573-5", "Somewhat difficult"),
        (LOINC_SYSTEM, "LA6575-0", "Very difficult"),
        (LOINC_SYSTEM, "LA6574-3", "Extremely difficult"),
    ]
    assert [ordinals(o) for o in item10["answerOption"]] == [[], [], [], []]


def test_gad7_difficulty_item_keeps_local_codes():
    """Only PHQ-9's item 69722-7 uses LL359-1; GAD-7's difficulty item has no LOINC item code."""
    items = {i["linkId"]: i for i in to_fhir_questionnaire(DEFINITIONS["GAD-7"])["item"]}
    assert [o["valueCoding"]["code"] for o in items["gad7_difficulty"]["answerOption"]] == [
        "0",
        "1",
        "2",
        "3",
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("PHQ-9", [("score.total", LOINC_SYSTEM, "44261-6", "integer")]),
        ("GAD-7", [("score.total", LOINC_SYSTEM, "70274-6", "integer")]),
        ("NEURO-SX", [("score.grade", LOCAL_OBSERVATION_SYSTEM, "neuropathy-grade", "integer")]),
        (
            "BPNS",
            [
                ("score.grade", LOCAL_OBSERVATION_SYSTEM, "neuropathy-grade", "integer"),
                ("score.case", LOCAL_OBSERVATION_SYSTEM, "bpns-case", "boolean"),
            ],
        ),
    ],
)
def test_score_items_are_read_only_with_their_codes(code, expected):
    resource = to_fhir_questionnaire(DEFINITIONS[code])
    scores = [i for i in resource["item"] if i.get("readOnly")]
    assert [
        (i["linkId"], i["code"][0]["system"], i["code"][0]["code"], i["type"]) for i in scores
    ] == expected
    assert set(SCORE_LINK_IDS.values()) >= {i["linkId"] for i in scores}
    assert all(i["required"] is False for i in scores)


def test_bpns_integer_ranges_and_local_reflex_codes():
    resource = to_fhir_questionnaire(DEFINITIONS["BPNS"])
    items = {item["linkId"]: item for item in resource["item"]}
    assert "code" not in resource
    assert items["vibration_l"]["extension"] == [
        {"url": MIN_VALUE_URL, "valueInteger": 0},
        {"url": MAX_VALUE_URL, "valueInteger": 60},
    ]
    assert items["r_pain"]["extension"] == [
        {"url": MIN_VALUE_URL, "valueInteger": 0},
        {"url": MAX_VALUE_URL, "valueInteger": 10},
    ]
    assert items["reflex_r"]["answerOption"][0] == {
        "valueCoding": {
            "system": "urn:cycloserine-screening:answers:bpns:reflex_r",
            "code": "absent",
            "display": "Absent",
        }
    }


def test_questionnaire_in_another_language_falls_back_to_english():
    definition = copy.deepcopy(DEFINITIONS["GAD-7"])
    definition["title"]["pt"] = "PT title"
    resource = to_fhir_questionnaire(definition, "pt")
    english = to_fhir_questionnaire(DEFINITIONS["GAD-7"])
    assert (resource["language"], resource["title"], resource["item"]) == (
        "pt",
        "PT title",
        english["item"],
    )
