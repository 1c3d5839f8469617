"""The shipped instrument files, their checks, localisation and checksums."""

import copy
import json
import re

import pytest

from questionnaires.definitions import (
    DefinitionError,
    definition_checksum,
    load_definitions,
    localise,
    validate_definition,
)

# Every LOINC code, exactly as docs/clinical-reference.md §1 lists it.
PHQ9_ITEM_LOINC = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
GAD7_ITEM_LOINC = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
LL358_3 = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
SYMPTOM_CODES = ["r_pain", "r_pins_needles", "r_numbness", "l_pain", "l_pins_needles", "l_numbness"]

EXPECTED_LOINC = {
    "PHQ-9": {
        "panel": {"panel": "44249-1", "total": "44261-6"},
        "items": {f"phq9_{n}": code for n, code in enumerate(PHQ9_ITEM_LOINC, 1)}
        | {"phq9_10": "69722-7"},
        "options": {f"phq9_{n}": LL358_3 for n in range(1, 10)}
        | {"phq9_10": [None, None, None, None]},
    },
    "GAD-7": {
        "panel": {"panel": "69737-5", "total": "70274-6"},
        "items": {f"gad7_{n}": code for n, code in enumerate(GAD7_ITEM_LOINC, 1)}
        | {"gad7_difficulty": None},
        "options": {f"gad7_{n}": LL358_3 for n in range(1, 8)}
        | {"gad7_difficulty": [None, None, None, None]},
    },
    "NEURO-SX": {
        "panel": None,
        "items": dict.fromkeys(SYMPTOM_CODES),
        "options": {},
    },
    "BPNS": {
        "panel": None,
        "items": dict.fromkeys(
            [*SYMPTOM_CODES, "vibration_r", "vibration_l", "reflex_r", "reflex_l"]
        ),
        "options": {"reflex_r": [None] * 5, "reflex_l": [None] * 5},
    },
}


@pytest.fixture(scope="module")
def definitions():
    return {d["code"]: d for d in load_definitions()}


def by_code(definition):
    return {item["code"]: item for item in definition["items"]}


def test_load_definitions_finds_the_four_instruments(definitions):
    assert sorted((d["code"], d["version"]) for d in definitions.values()) == [
        ("BPNS", 1),
        ("GAD-7", 1),
        ("NEURO-SX", 1),
        ("PHQ-9", 1),
    ]


@pytest.mark.parametrize("code", ["PHQ-9", "GAD-7", "NEURO-SX", "BPNS"])
def test_loinc_codes_equal_the_clinical_reference(definitions, code):
    definition = definitions[code]
    found = {
        "panel": definition["loinc"],
        "items": {item["code"]: item["loinc"] for item in definition["items"]},
        "options": {
            item["code"]: [option["loinc"] for option in item["options"]]
            for item in definition["items"]
            if item["type"] == "choice"
        },
    }
    assert found == EXPECTED_LOINC[code]


@pytest.mark.parametrize("code", ["PHQ-9", "GAD-7"])
def test_frequency_options_value_0_to_3(definitions, code):
    scored = [item for item in definitions[code]["items"] if item["scored"]]
    for item in scored:
        assert [(o["value"], o["label"]["en"]) for o in item["options"]] == [
            (0, "Not at all"),
            (1, "Several days"),
            (2, "More than half the days"),
            (3, "Nearly every day"),
        ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "PHQ-9",
            [(f"phq9_{n}", "choice", True, True) for n in range(1, 10)]
            + [("phq9_10", "choice", False, False)],
        ),
        (
            "GAD-7",
            [(f"gad7_{n}", "choice", True, True) for n in range(1, 8)]
            + [("gad7_difficulty", "choice", False, False)],
        ),
        ("NEURO-SX", [(c, "integer", True, True) for c in SYMPTOM_CODES]),
        (
            "BPNS",
            [(c, "integer", True, True) for c in SYMPTOM_CODES]
            + [
                ("vibration_r", "integer", True, True),
                ("vibration_l", "integer", True, True),
                ("reflex_r", "choice", True, True),
                ("reflex_l", "choice", True, True),
            ],
        ),
    ],
)
def test_items_in_api_order_with_type_required_scored(definitions, code, expected):
    items = definitions[code]["items"]
    assert [(i["code"], i["type"], i["required"], i["scored"]) for i in items] == expected


def test_difficulty_items_options(definitions):
    labels = ["Not difficult at all", "Somewhat difficult", "Very difficult", "Extremely difficult"]
    for code, item_code in [("PHQ-9", "phq9_10"), ("GAD-7", "gad7_difficulty")]:
        item = by_code(definitions[code])[item_code]
        assert [(o["value"], o["label"]["en"]) for o in item["options"]] == list(enumerate(labels))


def test_neuropathy_ranges_and_reflex_values(definitions):
    bpns = by_code(definitions["BPNS"])
    neuro = by_code(definitions["NEURO-SX"])
    assert {c: (neuro[c]["min"], neuro[c]["max"]) for c in SYMPTOM_CODES} == dict.fromkeys(
        SYMPTOM_CODES, (0, 10)
    )
    assert {c: (bpns[c]["min"], bpns[c]["max"]) for c in SYMPTOM_CODES} == dict.fromkeys(
        SYMPTOM_CODES, (0, 10)
    )
    assert (bpns["vibration_r"]["min"], bpns["vibration_r"]["max"]) == (0, 60)
    assert (bpns["vibration_l"]["min"], bpns["vibration_l"]["max"]) == (0, 60)
    reflex = ["absent", "hypoactive", "normal", "hyperactive", "clonus"]
    assert [o["value"] for o in bpns["reflex_r"]["options"]] == reflex
    assert [o["value"] for o in bpns["reflex_l"]["options"]] == reflex


def test_kinds_and_recall_periods(definitions):
    assert {c: (d["kind"], d["recall_period"], d["scoring"]) for c, d in definitions.items()} == {
        "PHQ-9": ("self_report", "P14D", "PHQ-9"),
        "GAD-7": ("self_report", "P14D", "GAD-7"),
        "NEURO-SX": ("self_report", None, "NEURO-SX"),
        "BPNS": ("clinician", None, "BPNS"),
    }


def test_phq9_item9_text_matches_the_reference(definitions):
    assert by_code(definitions["PHQ-9"])["phq9_9"]["text"] == {
        "en": "Thoughts that you would be better off dead, or of hurting yourself in some way"
    }


# --- localisation --------------------------------------------------------------------------------


@pytest.fixture
def partly_portuguese(definitions):
    """PHQ-9 with a few test-only "pt" strings (not a clinical translation)."""
    definition = copy.deepcopy(definitions["PHQ-9"])
    definition["preamble"]["pt"] = "PT preamble"
    definition["items"][0]["options"][0]["label"]["pt"] = "PT option 0"
    definition["items"][1]["text"]["pt"] = "PT item 2"
    return definition


def test_localise_falls_back_to_english_item_by_item(partly_portuguese):
    rendered, served = localise(partly_portuguese, "pt")
    english, _ = localise(partly_portuguese, "en")
    expected = copy.deepcopy(english)
    expected["preamble"] = "PT preamble"
    expected["items"][0]["options"][0]["label"] = "PT option 0"
    expected["items"][1]["text"] = "PT item 2"
    assert (rendered, served) == (expected, "pt")


@pytest.mark.parametrize(
    ("language", "served"),
    [("pt", "pt"), ("pt-BR", "pt"), ("PT", "pt"), ("pt_BR", "pt"), ("fr", "en"), ("", "en")],
)
def test_localise_served_language(partly_portuguese, language, served):
    assert localise(partly_portuguese, language)[1] == served


def test_localise_prefers_the_regional_tag(partly_portuguese):
    partly_portuguese["preamble"]["pt-BR"] = "BR preamble"
    rendered, served = localise(partly_portuguese, "pt-BR")
    assert (rendered["preamble"], rendered["items"][1]["text"], served) == (
        "BR preamble",
        "PT item 2",
        "pt-BR",
    )


def test_localise_unknown_language_is_all_english(definitions):
    rendered, served = localise(definitions["GAD-7"], "xx")
    assert (rendered, served) == (localise(definitions["GAD-7"], "en")[0], "en")


def test_localise_api_shape(definitions):
    rendered, _ = localise(definitions["BPNS"], "en")
    assert {k: v for k, v in rendered.items() if k != "items"} == {
        "code": "BPNS",
        "version": 1,
        "title": "Brief Peripheral Neuropathy Screen (examination)",
        "kind": "clinician",
        "preamble": definitions["BPNS"]["preamble"]["en"],
        "recall_period": None,
    }
    assert rendered["items"][6] == {
        "code": "vibration_r",
        "text": definitions["BPNS"]["items"][6]["text"]["en"],
        "type": "integer",
        "min": 0,
        "max": 60,
        "required": True,
        "scored": True,
    }
    assert rendered["items"][8]["options"][0] == {"value": "absent", "label": "Absent"}
    assert "loinc" not in json.dumps(rendered)


# --- checksum ------------------------------------------------------------------------------------


def test_checksum_ignores_key_order_and_detects_changes(definitions):
    definition = definitions["PHQ-9"]
    reordered = dict(reversed(list(copy.deepcopy(definition).items())))
    changed = copy.deepcopy(definition)
    changed["items"][8]["options"][1]["value"] = 2
    checksum = definition_checksum(definition)
    assert re.fullmatch(r"[0-9a-f]{64}", checksum)
    assert definition_checksum(reordered) == checksum
    assert definition_checksum(changed) != checksum


# --- structure validation ------------------------------------------------------------------------


def test_shipped_definitions_have_no_problems(definitions):
    assert {code: validate_definition(d) for code, d in definitions.items()} == {
        "PHQ-9": [],
        "GAD-7": [],
        "NEURO-SX": [],
        "BPNS": [],
    }


def _duplicate_code(d):
    d["items"][1]["code"] = "gad7_1"


def _choice_without_options(d):
    d["items"][7]["options"] = []


def _integer_without_max(d):
    d["items"][0] = {k: v for k, v in d["items"][0].items() if k != "max"}


def _unregistered_scoring(d):
    d["scoring"] = "GAD-8"


def _missing_english(d):
    d["items"][2]["text"] = {"pt": "x"}


def _bool_option_value(d):
    d["items"][7]["options"][0]["value"] = False


def _scored_item_not_scored(d):
    d["items"][6]["scored"] = False


def _scorer_range_differs(d):
    d["items"][0]["max"] = 11


def _min_above_max(d):
    d["items"][0]["min"] = 7
    d["items"][0]["max"] = 6


@pytest.mark.parametrize(
    ("code", "mutate", "problems"),
    [
        ("GAD-7", _duplicate_code, ["items: duplicate item codes ['gad7_1']"]),
        (
            "GAD-7",
            _choice_without_options,
            ["items[7] (gad7_difficulty).options: a choice item needs a non-empty list of options"],
        ),
        (
            "NEURO-SX",
            _integer_without_max,
            [
                "items[0] (r_pain): integer item keys wrong (missing ['max'], extra [])",
                "items[0] (r_pain): an integer item needs integer min and max",
            ],
        ),
        ("GAD-7", _unregistered_scoring, ["scoring: no scorer registered for 'GAD-8' version 1"]),
        (
            "GAD-7",
            _missing_english,
            ["items[2] (gad7_3).text: English ('en') text is required"],
        ),
        (
            "GAD-7",
            _bool_option_value,
            [
                "items[7] (gad7_difficulty).options[0].value: must be an integer or a non-empty "
                "string"
            ],
        ),
        (
            "GAD-7",
            _scored_item_not_scored,
            [
                "scoring: scored items ['gad7_1', 'gad7_2', 'gad7_3', 'gad7_4', 'gad7_5', "
                "'gad7_6'] differ from the items the GAD-7 v1 scorer reads ['gad7_1', 'gad7_2', "
                "'gad7_3', 'gad7_4', 'gad7_5', 'gad7_6', 'gad7_7']"
            ],
        ),
        (
            "NEURO-SX",
            _scorer_range_differs,
            [
                "items (r_pain): values ('integer', (0, 11)) differ from the scorer's "
                "('integer', (0, 10))"
            ],
        ),
        ("NEURO-SX", _min_above_max, ["items[0] (r_pain): min 7 is greater than max 6"]),
    ],
)
def test_validate_definition_reports_problems(definitions, code, mutate, problems):
    definition = copy.deepcopy(definitions[code])
    mutate(definition)
    assert validate_definition(definition) == problems


@pytest.mark.parametrize("value", [None, [], "PHQ-9", 3])
def test_validate_definition_refuses_non_objects(value):
    assert validate_definition(value) == ["the definition must be a JSON object"]


def _write(directory, name, definition):
    (directory / name).write_text(json.dumps(definition), encoding="utf-8")


def test_load_definitions_refuses_a_wrong_file_name(tmp_path, definitions):
    _write(tmp_path, "GAD-7.json", definitions["GAD-7"])
    with pytest.raises(DefinitionError) as error:
        load_definitions(tmp_path)
    assert str(error.value) == "GAD-7.json: file name must be GAD-7.v1.json"


def test_load_definitions_refuses_invalid_json(tmp_path):
    (tmp_path / "X.v1.json").write_text("{", encoding="utf-8")
    with pytest.raises(DefinitionError) as error:
        load_definitions(tmp_path)
    assert str(error.value).startswith("X.v1.json: cannot read JSON: ")


def test_load_definitions_refuses_an_empty_directory(tmp_path):
    with pytest.raises(DefinitionError) as error:
        load_definitions(tmp_path)
    assert str(error.value) == f"no instrument definitions (*.json) in {tmp_path}"


def test_load_definitions_reports_every_problem_of_a_file(tmp_path, definitions):
    definition = copy.deepcopy(definitions["GAD-7"])
    _duplicate_code(definition)
    definition["kind"] = "robot"
    _write(tmp_path, "GAD-7.v1.json", definition)
    with pytest.raises(DefinitionError) as error:
        load_definitions(tmp_path)
    assert str(error.value) == (
        "GAD-7.v1.json: kind: must be one of self_report, clinician; "
        "items: duplicate item codes ['gad7_1']"
    )


def test_a_translation_is_added_by_data_alone_as_a_new_version(tmp_path):
    from questionnaires.definitions import DEFAULT_DIRECTORY
    from questionnaires.scoring import score_definition

    for path in DEFAULT_DIRECTORY.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    phq9 = json.loads((DEFAULT_DIRECTORY / "PHQ-9.v1.json").read_text())
    phq9["version"] = 2
    phq9["preamble"]["pt"] = "Nas últimas 2 semanas, com que frequência..."
    (tmp_path / "PHQ-9.v2.json").write_text(json.dumps(phq9))

    loaded = {(d["code"], d["version"]): d for d in load_definitions(tmp_path)}
    answers = {f"phq9_{n}": 1 for n in range(1, 10)}

    assert sorted(loaded) == [
        ("BPNS", 1),
        ("GAD-7", 1),
        ("NEURO-SX", 1),
        ("PHQ-9", 1),
        ("PHQ-9", 2),
    ]
    assert score_definition(loaded[("PHQ-9", 2)], answers) == score_definition(
        loaded[("PHQ-9", 1)], answers
    )
    assert score_definition(loaded[("PHQ-9", 2)], answers).total == 9


def test_an_unknown_scoring_version_is_a_definition_problem(definitions):
    from questionnaires.definitions import validate_definition

    phq9 = copy.deepcopy(definitions["PHQ-9"])
    phq9["scoring_version"] = 7

    assert validate_definition(phq9) == ["scoring: no scorer registered for 'PHQ-9' version 7"]
