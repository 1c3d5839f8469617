"""FHIR R4 out (validated with fhir.resources' R4B models = R4 structures) and Cmax in."""

import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from notifications.exports import services
from notifications.exports.fhir_export import LAB_REFERENCE_SYSTEM
from notifications.models import ExportJob
from questionnaires.fhir import LOCAL_OBSERVATION_SYSTEM
from screening.models import AuditEvent, CmaxResult, EvaluationRequest

pytestmark = pytest.mark.django_db

MODELS: dict[str, Any] = {
    "QuestionnaireResponse": QuestionnaireResponse,
    "Observation": Observation,
    "DetectedIssue": DetectedIssue,
}


def ndjson(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+ndjson"
    body = b"".join(response.streaming_content).decode()
    assert body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


def validate(resource: dict):
    model = MODELS.get(resource["resourceType"], OperationOutcome)
    parsed = model.model_validate(resource)
    # Nothing was dropped or coerced away (fhir.resources writes UTC as "Z").
    dumped = json.loads(parsed.model_dump_json(exclude_none=True))
    assert utc_as_z(dumped) == utc_as_z(json.loads(json.dumps(resource)))
    return parsed


def utc_as_z(value):
    if isinstance(value, dict):
        return {k: utc_as_z(v) for k, v in value.items()}
    if isinstance(value, list):
        return [utc_as_z(v) for v in value]
    if isinstance(value, str) and value.endswith("+00:00"):
        return value[: -len("+00:00")] + "Z"
    return value


@pytest.mark.parametrize("resource_type", list(MODELS))
def test_every_exported_resource_validates(world, admin_client_api, resource_type):
    resources = ndjson(admin_client_api.get(f"/api/v1/exports/fhir/{resource_type}.ndjson"))
    assert resources
    assert {r["resourceType"] for r in resources} == {resource_type}
    for resource in resources:
        validate(resource)


def test_questionnaire_response_links_its_versioned_questionnaire(world, admin_client_api):
    resources = ndjson(admin_client_api.get("/api/v1/exports/fhir/QuestionnaireResponse.ndjson"))
    phq9 = next(
        r
        for r in resources
        if r["questionnaire"] == "urn:cycloserine-screening:questionnaire:PHQ-9|1"
        and len(r.get("item", [])) == 10
    )
    items = {i["linkId"]: i["answer"][0] for i in phq9["item"]}
    assert items["phq9_9"]["valueCoding"]["code"] == "LA6569-3"  # answered 1
    assert items["phq9_10"]["valueCoding"]["code"] == "LA6575-0"  # very difficult
    assert phq9["subject"]["reference"].startswith("Patient/")
    bpns = next(r for r in resources if "BPNS" in r["questionnaire"])
    items = {i["linkId"]: i["answer"][0] for i in bpns["item"]}
    assert items["vibration_r"] == {"valueInteger": 5}
    assert items["reflex_l"]["valueCoding"]["code"] == "absent"


def test_observations_of_scores_and_cmax(world, admin_client_api):
    resources = ndjson(admin_client_api.get("/api/v1/exports/fhir/Observation.ndjson?site=a"))
    codes = {}
    for r in resources:
        coding = r["code"]["coding"][0]
        codes.setdefault((coding["system"], coding["code"]), []).append(r)
    phq9 = codes[("http://loinc.org", "44261-6")]
    assert [o["valueInteger"] for o in phq9] == [12]  # the invalid PHQ-9 has no total
    assert [o["valueInteger"] for o in codes[("http://loinc.org", "70274-6")]] == [8]
    grades = codes[(LOCAL_OBSERVATION_SYSTEM, "neuropathy-grade")]
    assert sorted((o["valueInteger"], o["status"]) for o in grades) == [
        (1, "final"),
        (2, "final"),
        (3, "preliminary"),  # the incomplete NEURO-SX: a lower bound
    ]
    assert [o["valueBoolean"] for o in codes[(LOCAL_OBSERVATION_SYSTEM, "bpns-case")]] == [True]
    cmax = codes[(LOCAL_OBSERVATION_SYSTEM, "cycloserine-cmax")]
    assert sorted((o["valueQuantity"]["value"], o["valueQuantity"]["code"]) for o in cmax) == [
        (41.5, "ug/mL"),
        (300.0, "umol/L"),
    ]
    hours = cmax[0]["component"][0]
    assert hours["code"]["coding"][0]["code"] == "hours-after-dose"
    assert hours["valueQuantity"] == {
        "value": 2.0,
        "unit": "h",
        "system": "http://unitsofmeasure.org",
        "code": "h",
    }


def test_alerts_are_detected_issues_with_evidence_and_resolution(world, admin_client_api):
    issues = ndjson(admin_client_api.get("/api/v1/exports/fhir/DetectedIssue.ndjson?site=b"))
    urgent = next(i for i in issues if i["severity"] == "high")
    assert {c["code"] for c in urgent["code"]["coding"]} == {"discontinuation", "D1"}
    evidence = {e["reference"].split("/")[0] for e in urgent["evidence"][0]["detail"]}
    assert evidence == {"QuestionnaireResponse", "Observation"}
    resolved = next(i for i in issues if i["severity"] == "moderate")
    assert resolved["mitigation"][0]["action"]["coding"][0]["code"] == "dose_reduced"


def test_ndjson_export_is_site_scoped_and_audited(world):
    resources = ndjson(world["client_a"].get("/api/v1/exports/fhir/Observation.ndjson"))
    studies = {r["subject"]["identifier"]["value"] for r in resources}
    assert studies == {"A-1"}
    event = AuditEvent.objects.filter(action="export").last()
    assert event.changes["dataset"] == "fhir:Observation"
    assert event.changes["rows"] == len(resources)
    assert world["client_a"].get("/api/v1/exports/fhir/Patient.ndjson").status_code == 404


def test_bulk_data_kick_off_status_and_manifest(world, django_capture_on_commit_callbacks):
    client = world["client_a"]
    with django_capture_on_commit_callbacks(execute=False):
        response = client.get("/api/v1/fhir/$export?_type=Observation,DetectedIssue")
    assert response.status_code == 202
    status_url = response["Content-Location"]
    assert client.get(status_url).status_code == 202
    job = ExportJob.objects.get()
    services.run_export_job(str(job.pk))
    manifest = client.get(status_url)
    assert manifest.status_code == 200
    body = manifest.json()
    assert body["requiresAccessToken"] is True
    assert [o["type"] for o in body["output"]] == ["Observation", "DetectedIssue"]
    for output in body["output"]:
        download = client.get(output["url"])
        lines = b"".join(download.streaming_content).decode().splitlines()
        assert len(lines) == output["count"] > 0
        for line in lines:
            validate(json.loads(line))
    assert client.get("/api/v1/fhir/$export?_type=Patient").status_code == 400


# --- Cmax in ------------------------------------------------------------------------------------


def observation(who, **changes):
    resource = {
        "resourceType": "Observation",
        "identifier": [{"system": LAB_REFERENCE_SYSTEM, "value": "LAB-FHIR-1"}],
        "status": "final",
        "code": {"coding": [{"system": LOCAL_OBSERVATION_SYSTEM, "code": "cycloserine-cmax"}]},
        "subject": {"reference": f"Patient/{who.pk}"},
        "effectiveDateTime": (timezone.now() - timezone.timedelta(hours=1)).isoformat(),
        "valueQuantity": {
            "value": 36.2,
            "unit": "mg/L",
            "system": "http://unitsofmeasure.org",
            "code": "mg/L",
        },
        "component": [
            {
                "code": {
                    "coding": [{"system": LOCAL_OBSERVATION_SYSTEM, "code": "hours-after-dose"}]
                },
                "valueQuantity": {"value": 2, "system": "http://unitsofmeasure.org", "code": "h"},
            },
            {
                "code": {"coding": [{"system": LOCAL_OBSERVATION_SYSTEM, "code": "dose-mg"}]},
                "valueQuantity": {
                    "value": 750,
                    "system": "http://unitsofmeasure.org",
                    "code": "mg",
                },
            },
        ],
    }
    resource.update(changes)
    return resource


def post(client, body, content_type="application/fhir+json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/api/v1/fhir/Observation", data=data, content_type=content_type)


def outcome(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    validate(body)
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def test_a_cmax_posted_twice_is_stored_once(world):
    subject = world["subjects"]["a"]
    resource = observation(subject)
    validate({**resource})  # what the lab sends is itself valid R4
    before = CmaxResult.objects.filter(subject=subject).count()
    first = post(world["client_a"], resource)
    assert first.status_code == 201, first.content
    assert first["Content-Type"].startswith("application/fhir+json")
    again = post(world["client_a"], resource)
    assert again.status_code == 200
    assert again.json() == first.json()
    validate(first.json())
    assert CmaxResult.objects.filter(subject=subject).count() == before + 1
    stored = CmaxResult.objects.get(subject=subject, lab_reference="LAB-FHIR-1")
    assert (stored.value, stored.unit, stored.hours_post_dose, stored.dose_mg) == (
        Decimal("36.200"),
        "mg/L",
        Decimal("2.00"),
        750,
    )
    assert EvaluationRequest.objects.filter(subject=subject, reason="cmax").count() == 1
    assert AuditEvent.objects.filter(object_id=str(stored.pk), action="create").count() == 1


def test_umol_per_litre_is_converted(world):
    subject = world["subjects"]["a"]
    quantity = {"value": 300, "system": "http://unitsofmeasure.org", "code": "umol/L"}
    response = post(world["client_a"], observation(subject, valueQuantity=quantity))
    assert response.status_code == 201
    assert CmaxResult.objects.get(lab_reference="LAB-FHIR-1").value_ug_per_ml == Decimal("30.627")


def test_same_identifier_with_other_content_is_a_conflict(world):
    subject = world["subjects"]["a"]
    assert post(world["client_a"], observation(subject)).status_code == 201
    changed = observation(subject)
    changed["valueQuantity"] = {**changed["valueQuantity"], "value": 20}
    (issue,) = outcome(post(world["client_a"], changed), 409)
    assert issue["code"] == "conflict" and "value" in issue["diagnostics"]


def _without(key):
    def change(resource):
        del resource[key]

    return change


def _set(path, value):
    def change(resource):
        target = resource
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("mutate", "code", "expression"),
    [
        (_without("identifier"), "required", "Observation.identifier"),
        (_without("effectiveDateTime"), "required", "Observation.effectiveDateTime"),
        (
            _set(["effectiveDateTime"], "2025-03-01T08:00:00"),
            "value",
            "Observation.effectiveDateTime",
        ),
        (_set(["effectiveDateTime"], "2025-03-01"), "value", "Observation.effectiveDateTime"),
        (
            _set(["valueQuantity", "code"], "ng/mL"),
            "code-invalid",
            "Observation.valueQuantity.code",
        ),
        (_set(["valueQuantity", "value"], "abc"), "value", "Observation.valueQuantity.value"),
        (_set(["valueQuantity", "value"], 1.23456), "value", "Observation.valueQuantity.value"),
        (_set(["status"], "preliminary"), "value", "Observation.status"),
        (
            _set(["code"], {"coding": [{"system": "http://loinc.org", "code": "1-8"}]}),
            "code-invalid",
            "Observation.code",
        ),
        (_set(["subject"], {"reference": "Group/1"}), "required", "Observation.subject"),
        (_set(["component"], []), "required", "Observation.component"),
    ],
)
def test_malformed_observation_gets_an_operation_outcome(world, mutate, code, expression):
    resource = observation(world["subjects"]["a"])
    mutate(resource)
    issues = outcome(post(world["client_a"], resource), 400)
    assert [(i["code"], i["expression"]) for i in issues] == [(code, [expression])]
    assert not CmaxResult.objects.filter(lab_reference="LAB-FHIR-1").exists()


@pytest.mark.parametrize(
    "body",
    ["{not json", "[]", json.dumps({"resourceType": "Patient"}), json.dumps([1, 2]), "null"],
)
def test_not_an_observation_is_a_400_operation_outcome(world, body):
    issues = outcome(post(world["client_a"], body), 400)
    assert issues[0]["severity"] == "error"


def test_wrong_content_type_is_415_operation_outcome(world):
    outcome(post(world["client_a"], "value=1", content_type="text/plain"), 415)


def test_plain_json_is_accepted_too(world):
    response = post(world["client_a"], observation(world["subjects"]["a"]), "application/json")
    assert response.status_code == 201


def test_implausible_value_is_422(world):
    resource = observation(world["subjects"]["a"])
    resource["valueQuantity"] = {**resource["valueQuantity"], "value": 900}
    (issue,) = outcome(post(world["client_a"], resource), 422)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Observation.valueQuantity"]


@pytest.mark.parametrize("reference", ["other-site", "unknown", "not-a-uuid"])
def test_other_sites_patient_is_404_like_an_unknown_one(world, reference):
    subject = {
        "other-site": f"Patient/{world['subjects']['b'].pk}",
        "unknown": "Patient/00000000-0000-0000-0000-000000000000",
        "not-a-uuid": "Patient/xyz",
    }[reference]
    resource = observation(world["subjects"]["a"], subject={"reference": subject})
    (issue,) = outcome(post(world["client_a"], resource), 404)
    assert issue["code"] == "not-found"


def test_unauthenticated_is_an_operation_outcome(world, api_client):
    response = api_client.post(
        "/api/v1/fhir/Observation", data="{}", content_type="application/fhir+json"
    )
    assert response.status_code in (401, 403)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_validator_refuses_a_broken_resource(world, admin_client_api):
    """Guard the validation above: a resource with a wrong-typed field does not validate."""
    (issue, *_) = ndjson(admin_client_api.get("/api/v1/exports/fhir/DetectedIssue.ndjson"))
    with pytest.raises(ValueError):
        DetectedIssue.model_validate({**issue, "identifiedDateTime": "yesterday"})
    with pytest.raises(ValueError):
        DetectedIssue.model_validate({**issue, "evidence": [{"detail": "QuestionnaireResponse/1"}]})
