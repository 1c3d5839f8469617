"""The instruments API (questionnaires/api): shapes, versions, languages, FHIR, errors."""

import copy

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from fhir.resources.R4B.questionnaire import Questionnaire
from rest_framework.test import APIClient

from questionnaires import scoring
from questionnaires.fhir import LOINC_SYSTEM, ORDINAL_VALUE_URL
from questionnaires.models import InstrumentVersion
from tests.factories import SubjectFactory, staff_client, subject_client
from tests.questionnaires.conftest import FILE_DEFINITIONS

pytestmark = pytest.mark.django_db

CODES = ["BPNS", "GAD-7", "NEURO-SX", "PHQ-9"]
FREQUENCY = [
    {"value": 0, "label": "Not at all"},
    {"value": 1, "label": "Several days"},
    {"value": 2, "label": "More than half the days"},
    {"value": 3, "label": "Nearly every day"},
]
DIFFICULTY = [
    {"value": 0, "label": "Not difficult at all"},
    {"value": 1, "label": "Somewhat difficult"},
    {"value": 2, "label": "Very difficult"},
    {"value": 3, "label": "Extremely difficult"},
]
STEM = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
DIFFICULTY_TEXT = (
    "If you checked off any problems, how difficult have these problems made it for you to do "
    "your work, take care of things at home, or get along with other people?"
)


def frequency_item(code: str, text: str) -> dict:
    return {
        "code": code,
        "text": text,
        "type": "choice",
        "options": FREQUENCY,
        "required": True,
        "scored": True,
    }


GAD7_EN = {
    "code": "GAD-7",
    "version": 1,
    "title": "Generalized Anxiety Disorder scale (GAD-7)",
    "kind": "self_report",
    "language": "en",
    "preamble": STEM,
    "recall_period": "P14D",
    "items": [
        frequency_item("gad7_1", "Feeling nervous, anxious, or on edge"),
        frequency_item("gad7_2", "Not being able to stop or control worrying"),
        frequency_item("gad7_3", "Worrying too much about different things"),
        frequency_item("gad7_4", "Trouble relaxing"),
        frequency_item("gad7_5", "Being so restless that it is hard to sit still"),
        frequency_item("gad7_6", "Becoming easily annoyed or irritable"),
        frequency_item("gad7_7", "Feeling afraid, as if something awful might happen"),
        {
            "code": "gad7_difficulty",
            "text": DIFFICULTY_TEXT,
            "type": "choice",
            "options": DIFFICULTY,
            "required": False,
            "scored": False,
        },
    ],
}

REFLEX = [
    {"value": "absent", "label": "Absent"},
    {"value": "hypoactive", "label": "Hypoactive"},
    {"value": "normal", "label": "Normal"},
    {"value": "hyperactive", "label": "Hyperactive"},
    {"value": "clonus", "label": "Clonus"},
]


@pytest.fixture
def client(admin_user) -> APIClient:
    return staff_client(admin_user)


def client_speaking(language: str) -> APIClient:
    """Return a client authenticated with a real subject token of a subject speaking language."""
    client, _ = subject_client(SubjectFactory(language=language))  # type: ignore[arg-type]
    return client


def spanish_phq9_items() -> list[dict]:
    """Return the expected items of PHQ-9 v2 asked for in Spanish: English fills the gaps."""
    english = copy.deepcopy(PHQ9_EN_ITEMS)
    english[0]["text"] = "Poco interés o placer en hacer cosas"
    english[0]["options"] = [
        {"value": 0, "label": "Ningún día"},
        {"value": 1, "label": "Varios días"},
        {"value": 2, "label": "Más de la mitad de los días"},
        {"value": 3, "label": "Casi todos los días"},
    ]
    english[1]["text"] = "Se ha sentido decaído(a), deprimido(a) o sin esperanzas"
    return english


PHQ9_EN_ITEMS = [
    frequency_item("phq9_1", "Little interest or pleasure in doing things"),
    frequency_item("phq9_2", "Feeling down, depressed, or hopeless"),
    frequency_item("phq9_3", "Trouble falling or staying asleep, or sleeping too much"),
    frequency_item("phq9_4", "Feeling tired or having little energy"),
    frequency_item("phq9_5", "Poor appetite or overeating"),
    frequency_item(
        "phq9_6",
        "Feeling bad about yourself, or that you are a failure or have let yourself or your "
        "family down",
    ),
    frequency_item(
        "phq9_7",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
    ),
    frequency_item(
        "phq9_8",
        "Moving or speaking so slowly that other people could have noticed, or the opposite: "
        "being so fidgety or restless that you have been moving around a lot more than usual",
    ),
    frequency_item(
        "phq9_9",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    {
        "code": "phq9_10",
        "text": DIFFICULTY_TEXT,
        "type": "choice",
        "options": DIFFICULTY,
        "required": False,
        "scored": False,
    },
]


# --- detail ---------------------------------------------------------------------------------


def test_detail_returns_the_whole_instrument_in_english(client):
    response = client.get("/api/v1/instruments/GAD-7/")

    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert response.json() == GAD7_EN


def test_detail_of_phq9_lists_every_item_with_its_scoring_values(client):
    response = client.get("/api/v1/instruments/PHQ-9/")

    assert response.status_code == 200
    assert response.json()["items"] == PHQ9_EN_ITEMS


def test_detail_of_bpns_has_integer_ranges_and_reflex_choices(client):
    response = client.get("/api/v1/instruments/BPNS/")

    body = response.json()
    assert (body["kind"], body["recall_period"]) == ("clinician", None)
    assert [
        (item["code"], item["type"], item.get("min"), item.get("max"), item.get("options"))
        for item in body["items"]
    ] == [
        ("r_pain", "integer", 0, 10, None),
        ("r_pins_needles", "integer", 0, 10, None),
        ("r_numbness", "integer", 0, 10, None),
        ("l_pain", "integer", 0, 10, None),
        ("l_pins_needles", "integer", 0, 10, None),
        ("l_numbness", "integer", 0, 10, None),
        ("vibration_r", "integer", 0, 60, None),
        ("vibration_l", "integer", 0, 60, None),
        ("reflex_r", "choice", None, None, REFLEX),
        ("reflex_l", "choice", None, None, REFLEX),
    ]


def test_detail_serves_the_current_version_by_default(client, phq9_v2):
    response = client.get("/api/v1/instruments/PHQ-9/")

    assert response.json()["version"] == 2


def test_detail_serves_an_older_version_on_request(client, phq9_v2):
    response = client.get("/api/v1/instruments/PHQ-9/?version=1&language=es")

    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert response.json() == {
        "code": "PHQ-9",
        "version": 1,
        "title": "Patient Health Questionnaire (PHQ-9)",
        "kind": "self_report",
        "language": "en",
        "preamble": STEM,
        "recall_period": "P14D",
        "items": PHQ9_EN_ITEMS,
    }


def test_partial_translation_falls_back_to_english_item_by_item(client, phq9_v2):
    response = client.get("/api/v1/instruments/PHQ-9/?language=es")

    assert response.status_code == 200
    assert response["Content-Language"] == "es"
    assert response.json() == {
        "code": "PHQ-9",
        "version": 2,
        "title": "Cuestionario sobre la salud del paciente (PHQ-9)",
        "kind": "self_report",
        "language": "es",
        "preamble": (
            "Durante las últimas 2 semanas, ¿qué tan seguido ha tenido molestias debido a los "
            "siguientes problemas?"
        ),
        "recall_period": "P14D",
        "items": spanish_phq9_items(),
    }


def test_regional_tag_falls_back_to_its_language(client, phq9_v2):
    response = client.get("/api/v1/instruments/PHQ-9/?language=es-MX")

    assert (response.status_code, response["Content-Language"]) == (200, "es")
    assert response.json()["items"] == spanish_phq9_items()


def test_untranslated_language_is_served_in_english(client, phq9_v2):
    response = client.get("/api/v1/instruments/PHQ-9/?language=fr")

    assert (response.status_code, response["Content-Language"]) == (200, "en")
    assert (response.json()["language"], response.json()["items"]) == ("en", PHQ9_EN_ITEMS)


def test_blank_language_means_the_default(client, phq9_v2):
    response = client.get("/api/v1/instruments/PHQ-9/?language=")

    assert (response.status_code, response.json()["language"]) == (200, "en")


def test_subject_token_defaults_to_the_subjects_language(phq9_v2):
    response = client_speaking("es").get("/api/v1/instruments/PHQ-9/")

    assert (response.status_code, response["Content-Language"]) == (200, "es")
    assert response.json()["items"] == spanish_phq9_items()


def test_language_parameter_overrides_the_subjects_language(phq9_v2):
    response = client_speaking("es").get("/api/v1/instruments/PHQ-9/?language=en")

    assert response.json()["items"] == PHQ9_EN_ITEMS


def test_staff_token_defaults_to_english(client, phq9_v2):
    response = client.get("/api/v1/instruments/PHQ-9/")

    assert (response.json()["language"], response.json()["items"]) == ("en", PHQ9_EN_ITEMS)


# --- list -----------------------------------------------------------------------------------


def test_list_returns_the_current_version_of_each_instrument(client, phq9_v2):
    response = client.get("/api/v1/instruments/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert (body["next"], body["previous"]) == (None, None)
    assert [(i["code"], i["version"], i["language"]) for i in body["results"]] == [
        ("BPNS", 1, "en"),
        ("GAD-7", 1, "en"),
        ("NEURO-SX", 1, "en"),
        ("PHQ-9", 2, "en"),
    ]
    assert body["results"][1] == GAD7_EN


def test_list_in_a_partly_available_language_names_every_language_served(client, phq9_v2):
    response = client.get("/api/v1/instruments/?language=es")

    assert response["Content-Language"] == "en, es"
    assert [(i["code"], i["language"]) for i in response.json()["results"]] == [
        ("BPNS", "en"),
        ("GAD-7", "en"),
        ("NEURO-SX", "en"),
        ("PHQ-9", "es"),
    ]
    assert response.json()["results"][3]["items"] == spanish_phq9_items()


def test_list_pages_follow_each_other_in_code_order(client):
    first = client.get("/api/v1/instruments/?page_size=3").json()
    second = client.get(first["next"]).json()

    assert [i["code"] for i in first["results"]] == ["BPNS", "GAD-7", "NEURO-SX"]
    assert [i["code"] for i in second["results"]] == ["PHQ-9"]
    assert second["next"] is None


def add_instruments(count: int) -> None:
    """Store more instruments, each with two versions (copies of GAD-7 under other codes)."""
    rows = []
    for number in range(count):
        for version in (1, 2):
            definition = {**FILE_DEFINITIONS["GAD-7"], "code": f"X-{number:03}", "version": version}
            rows.append(
                InstrumentVersion(
                    code=definition["code"],
                    version=version,
                    kind=definition["kind"],
                    definition=definition,
                    checksum=f"{number}-{version}",
                )
            )
    InstrumentVersion.objects.bulk_create(rows)


def test_list_query_count_stays_constant_as_instruments_grow(
    client, django_assert_num_queries, phq9_v2
):
    # Authentication (token lookup, last_used_at) and one query for the page.
    with django_assert_num_queries(3):
        small = client.get("/api/v1/instruments/")
    add_instruments(30)
    with django_assert_num_queries(3):
        large = client.get("/api/v1/instruments/")

    assert len(small.json()["results"]) == 4
    assert len(large.json()["results"]) == 34
    assert {i["version"] for i in large.json()["results"] if i["code"].startswith("X-")} == {2}


# --- FHIR -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_fhir_questionnaire_validates_as_fhir_r4(client, code):
    response = client.get(f"/api/v1/instruments/{code}/fhir/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    parsed = Questionnaire.model_validate(body)
    assert parsed.model_dump(mode="json", exclude_none=True) == body
    assert (body["resourceType"], body["version"], body["language"]) == ("Questionnaire", "1", "en")
    assert [item["linkId"] for item in body["item"] if not item.get("readOnly")] == [
        item["code"] for item in FILE_DEFINITIONS[code]["items"]
    ]


def ordinal_values(item: dict) -> list:
    return [
        extension["valueDecimal"]
        for option in item["answerOption"]
        for extension in option.get("extension", [])
        if extension["url"] == ORDINAL_VALUE_URL
    ]


@pytest.mark.parametrize(
    ("code", "panel", "item_loinc"),
    [
        (
            "PHQ-9",
            "44249-1",
            [
                "44250-9",
                "44255-8",
                "44259-0",
                "44254-1",
                "44251-7",
                "44258-2",
                "44252-5",
                "44253-3",
                "44260-8",
            ],
        ),
        (
            "GAD-7",
            "69737-5",
            ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"],
        ),
    ],
)
def test_fhir_answer_values_equal_the_scoring_values(client, code, panel, item_loinc):
    body = client.get(f"/api/v1/instruments/{code}/fhir/").json()
    scorer = scoring.get_scorer(code, 1)
    scored = [item for item in body["item"] if item["linkId"] in scorer.items]

    # Codes from docs/clinical-reference.md §1.
    assert body["code"] == [
        {"system": LOINC_SYSTEM, "code": panel, "display": FILE_DEFINITIONS[code]["title"]["en"]}
    ]
    assert [item["code"][0]["code"] for item in scored] == item_loinc
    assert [[c["valueCoding"]["code"] for c in item["answerOption"]] for item in scored] == [
        ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    ] * len(item_loinc)
    assert {item["linkId"]: ordinal_values(item) for item in scored} == {
        link_id: [0, 1, 2, 3] for link_id in scorer.items
    }
    assert {link_id: domain for link_id, domain in scorer.items.items()} == {
        item["linkId"]: ("integer", (0, 3)) for item in scored
    }
    # Answering option k of every scored item scores k per item: the ordinal is the score.
    for k in range(4):
        answers = {item["linkId"]: ordinal_values(item)[k] for item in scored}
        assert scoring.score(code, 1, answers).total == k * len(scored)


def test_fhir_questionnaire_of_an_older_version_in_a_language(client, phq9_v2):
    current = client.get("/api/v1/instruments/PHQ-9/fhir/?language=es").json()
    older = client.get("/api/v1/instruments/PHQ-9/fhir/?version=1&language=es").json()

    assert (current["version"], current["language"], current["item"][0]["text"]) == (
        "2",
        "es",
        "Poco interés o placer en hacer cosas",
    )
    assert (older["version"], older["language"], older["item"][0]["text"]) == (
        "1",
        "en",
        "Little interest or pleasure in doing things",
    )
    Questionnaire.model_validate(current)


def test_fhir_endpoint_answers_plain_json_on_request(client):
    response = client.get("/api/v1/instruments/PHQ-9/fhir/", HTTP_ACCEPT="application/json")

    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert response.json()["resourceType"] == "Questionnaire"


# --- errors ---------------------------------------------------------------------------------


def error_of(response) -> tuple:
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return response.status_code, body["error"]["code"], body["error"]["fields"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/instruments/", "/api/v1/instruments/PHQ-9/", "/api/v1/instruments/PHQ-9/fhir/"],
)
def test_no_token_is_401(api_client, path):
    assert error_of(api_client.get(path)) == (401, "not_authenticated", {})


@pytest.mark.parametrize(
    "path",
    ["/api/v1/instruments/", "/api/v1/instruments/PHQ-9/", "/api/v1/instruments/PHQ-9/fhir/"],
)
def test_unknown_token_is_401(api_client, path):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert error_of(api_client.get(path)) == (401, "authentication_failed", {})


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/instruments/PHQ-10/",
        "/api/v1/instruments/phq-9/",
        "/api/v1/instruments/PHQ-9/?version=2",
        "/api/v1/instruments/PHQ-9/fhir/?version=2",
        "/api/v1/instruments/NOPE/fhir/",
        "/api/v1/instruments/%00/",
        "/api/v1/instruments/%00/fhir/",
        "/api/v1/instruments/PHQ-9%0A/",
        "/api/v1/instruments/" + "X" * 5000 + "/",
        "/api/v1/instruments/%F0%9F%92%A5/",
        "/api/v1/instruments/?cursor=not-a-cursor",
        "/api/v1/instruments/PHQ-9/fhir/?format=xml",
    ],
)
def test_unknown_instrument_version_or_page_is_404(client, path):
    assert error_of(client.get(path)) == (404, "not_found", {})


def test_unknown_version_message_names_it(client):
    response = client.get("/api/v1/instruments/GAD-7/?version=9")

    assert response.json()["error"]["message"] == "No version 9 of instrument GAD-7."


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("version=abc", "version"),
        ("version=0", "version"),
        ("version=-1", "version"),
        ("version=1.5", "version"),
        ("version=99999999999999999999", "version"),
        ("language=%00", "language"),
        ("language=e", "language"),
        ("language=english%20please", "language"),
        ("language=es%0Ax", "language"),
        ("language=" + "a" * 100, "language"),
        ("language=%3Cscript%3E", "language"),
    ],
)
@pytest.mark.parametrize("endpoint", ["PHQ-9/", "PHQ-9/fhir/"])
def test_invalid_query_parameter_is_400(client, endpoint, query, field):
    status, code, fields = error_of(client.get(f"/api/v1/instruments/{endpoint}?{query}"))

    assert (status, code, list(fields)) == (400, "invalid", [field])


def test_invalid_language_on_the_list_is_400(client):
    status, code, fields = error_of(client.get("/api/v1/instruments/?language=%00"))

    assert (status, code, list(fields)) == (400, "invalid", ["language"])


def test_fhir_endpoint_refuses_an_unsupported_accept_header_in_json(client):
    response = client.get("/api/v1/instruments/PHQ-9/fhir/", HTTP_ACCEPT="application/xml")

    assert error_of(response) == (406, "not_acceptable", {})


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_instruments_are_read_only(client, method):
    response = getattr(client, method)("/api/v1/instruments/PHQ-9/", {}, format="json")

    assert error_of(response) == (405, "method_not_allowed", {})


# --- schema ---------------------------------------------------------------------------------


def test_schema_describes_the_instrument_endpoints_without_warnings():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()

    validate_schema(schema)
    assert [m for m in messages if "questionnaires" in m or "Instrument" in m] == []
    paths = schema["paths"]
    assert {
        path: sorted(paths[path]["get"]["responses"])
        for path in paths
        if path.startswith("/api/v1/instruments/")
    } == {
        "/api/v1/instruments/": ["200", "400", "401", "404"],
        "/api/v1/instruments/{code}/": ["200", "400", "401", "404"],
        "/api/v1/instruments/{code}/fhir/": ["200", "400", "401", "404"],
    }
    detail = paths["/api/v1/instruments/{code}/"]["get"]["responses"]["200"]
    assert detail["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Instrument"
    }
    fhir = paths["/api/v1/instruments/{code}/fhir/"]["get"]["responses"]["200"]["content"]
    assert sorted(fhir) == ["application/fhir+json", "application/json"]
    instrument = schema["components"]["schemas"]["Instrument"]
    assert sorted(instrument["properties"]) == sorted(
        ["code", "version", "title", "kind", "language", "preamble", "recall_period", "items"]
    )
    assert sorted(schema["components"]["schemas"]["InstrumentItem"]["required"]) == [
        "code",
        "required",
        "scored",
        "text",
        "type",
    ]
