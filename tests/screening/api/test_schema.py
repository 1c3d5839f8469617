"""The OpenAPI schema describes every staff endpoint of this app."""

import pytest

pytestmark = pytest.mark.django_db


def test_schema_lists_the_staff_endpoints(api_client):
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/api/v1/users/": {"post"},
        "/api/v1/sites/": {"get", "post"},
        "/api/v1/sites/{code}/": {"get", "patch"},
        "/api/v1/sites/{code}/members/": {"post"},
        "/api/v1/schedules/": {"get", "post"},
        "/api/v1/schedules/{id}/": {"get", "patch"},
        "/api/v1/schedules/{id}/preview/": {"get"},
        "/api/v1/subjects/": {"get", "post"},
        "/api/v1/subjects/{id}/": {"get", "patch"},
        "/api/v1/subjects/{id}/withdraw/": {"post"},
        "/api/v1/subjects/{id}/regimen-changes/": {"get", "post"},
        "/api/v1/subjects/{id}/assessments/": {"get"},
    }
    assert {path: set(paths.get(path, {})) - {"parameters"} for path in expected} == expected
