"""The OpenAPI schema describes every path of the API contract (docs/api.md)."""

import pytest
import yaml

CONTRACT = {
    "/api/v1/alerts/": ["get"],
    "/api/v1/alerts/{alert_id}/": ["get"],
    "/api/v1/alerts/{alert_id}/acknowledge/": ["post"],
    "/api/v1/alerts/{alert_id}/resolve/": ["post"],
    "/api/v1/audit/": ["get"],
    "/api/v1/auth/token/": ["post"],
    "/api/v1/exports/": ["get"],
    "/api/v1/exports/{dataset}/": ["get"],
    "/api/v1/exports/dictionary/": ["get"],
    "/api/v1/exports/fhir/{resource_type}.ndjson": ["get"],
    "/api/v1/exports/jobs/": ["get", "post"],
    "/api/v1/exports/jobs/{job_id}/": ["get"],
    "/api/v1/exports/jobs/{job_id}/files/{name}": ["get"],
    "/api/v1/fhir/Observation": ["post"],
    "/api/v1/fhir/export": ["get"],
    "/api/v1/fhir/export-status/{job_id}": ["get"],
    "/api/v1/auth/token/current/": ["delete"],
    "/api/v1/instruments/": ["get"],
    "/api/v1/instruments/{code}/": ["get"],
    "/api/v1/instruments/{code}/fhir/": ["get"],
    "/api/v1/me/": ["get"],
    "/api/v1/me/assessments/": ["get"],
    "/api/v1/me/assessments/{assessment_id}/response/": ["post"],
    "/api/v1/me/logout/": ["post"],
    "/api/v1/monitoring-profiles/": ["get", "post"],
    "/api/v1/monitoring-profiles/{profile_id}/": ["get"],
    "/api/v1/reports/missed-assessments/": ["get"],
    "/api/v1/responses/{response_id}/amendments/": ["get", "post"],
    "/api/v1/schedules/": ["get", "post"],
    "/api/v1/schedules/{id}/": ["get", "patch"],
    "/api/v1/schedules/{id}/edit-preview/": ["post"],
    "/api/v1/schedules/{id}/preview/": ["get"],
    "/api/v1/sites/": ["get", "post"],
    "/api/v1/sites/{code}/": ["get", "patch"],
    "/api/v1/sites/{code}/members/": ["post"],
    "/api/v1/subject-auth/activate/": ["post"],
    "/api/v1/subjects/": ["get", "post"],
    "/api/v1/subjects/{id}/": ["get", "patch"],
    "/api/v1/subjects/{id}/assessments/": ["get"],
    "/api/v1/subjects/{id}/regimen-changes/": ["get", "post"],
    "/api/v1/subjects/{id}/withdraw/": ["post"],
    "/api/v1/subjects/{subject_id}/activation-code/": ["post"],
    "/api/v1/subjects/{subject_id}/audit/": ["get"],
    "/api/v1/subjects/{subject_id}/cmax-results/": ["get", "post"],
    "/api/v1/subjects/{subject_id}/cmax-results/{result_id}/correct/": ["post"],
    "/api/v1/subjects/{subject_id}/cmax-results/{result_id}/void/": ["post"],
    "/api/v1/subjects/{subject_id}/responses/": ["get", "post"],
    "/api/v1/subjects/{subject_id}/revoke-tokens/": ["post"],
    "/api/v1/users/": ["get", "post"],
    "/api/v1/users/{user_id}/channels/": ["get", "post"],
    "/api/v1/users/{user_id}/channels/{channel_id}/enable/": ["post"],
}


@pytest.mark.django_db
def test_schema_has_every_contract_path_and_method(api_client):
    response = api_client.get("/api/v1/schema/")

    assert response.status_code == 200
    paths = yaml.safe_load(response.content)["paths"]
    assert {path: sorted(set(ops) - {"parameters"}) for path, ops in paths.items()} == CONTRACT


@pytest.mark.django_db
def test_schema_documents_the_idempotency_key_of_a_submission(api_client):
    paths = yaml.safe_load(api_client.get("/api/v1/schema/").content)["paths"]

    submit = paths["/api/v1/me/assessments/{assessment_id}/response/"]["post"]
    assert [p["name"] for p in submit["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def _example_problems(schema: dict, node: dict, value, where: str) -> list[str]:
    """Keys of an example that its schema does not declare, or required ones it lacks."""
    node = _resolve(schema, node)
    problems = []
    if isinstance(value, dict) and "properties" in node:
        unknown = set(value) - set(node["properties"])
        missing = set(node.get("required", [])) - set(value)
        problems += [f"{where}.{k}: not in the schema" for k in sorted(unknown)]
        problems += [f"{where}.{k}: required, missing" for k in sorted(missing)]
        for key in set(value) & set(node["properties"]):
            problems += _example_problems(
                schema, node["properties"][key], value[key], f"{where}.{key}"
            )
    elif isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            problems += _example_problems(schema, node["items"], item, f"{where}[{index}]")
    return problems


@pytest.mark.django_db
def test_every_write_operation_with_a_body_has_a_request_example_the_schema_accepts(api_client):
    schema = yaml.safe_load(api_client.get("/api/v1/schema/").content)
    without, problems, with_body = [], [], 0

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch") or "requestBody" not in operation:
                continue
            if "application/json" not in operation["requestBody"]["content"]:
                continue  # FHIR's application/fhir+json: its example is in docs/fhir.md
            with_body += 1
            content = operation["requestBody"]["content"]["application/json"]
            examples = content.get("examples", {})
            if not examples:
                without.append(f"{method.upper()} {path}")
            for name, example in examples.items():
                problems += _example_problems(
                    schema, content["schema"], example["value"], f"{method} {path} {name}"
                )

    assert with_body >= 19
    assert without == []
    assert problems == []


@pytest.mark.django_db
def test_the_schema_says_a_repeating_entry_needs_until_day(api_client):
    schema = yaml.safe_load(api_client.get("/api/v1/schema/").content)
    entry = schema["components"]["schemas"]["EntryRequest"]["properties"]

    assert "repeating entry" in entry["until_day"]["description"]
    assert "required" in entry["until_day"]["description"].lower()
