"""The OpenAPI schema describes every path of the API contract (docs/api.md)."""

import pytest
import yaml

CONTRACT = {
    "/api/v1/alerts/": ["get"],
    "/api/v1/alerts/{alert_id}/": ["get"],
    "/api/v1/alerts/{alert_id}/acknowledge/": ["post"],
    "/api/v1/alerts/{alert_id}/resolve/": ["post"],
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
    "/api/v1/schedules/": ["get", "post"],
    "/api/v1/schedules/{id}/": ["get", "patch"],
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
    "/api/v1/subjects/{subject_id}/cmax-results/": ["get", "post"],
    "/api/v1/subjects/{subject_id}/responses/": ["get", "post"],
    "/api/v1/subjects/{subject_id}/revoke-tokens/": ["post"],
    "/api/v1/users/": ["post"],
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
