"""Unknown fields in a request body are a 400 naming them, on every write, nested ones too."""

import inspect

import pytest
from rest_framework import serializers

from config.api import StrictFieldsMixin
from screening.models import Schedule, Subject
from tests.factories import (
    AlertFactory,
    MembershipFactory,
    ScheduleFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ENROLMENT = {
    "site": "cpt",
    "study_id": "CPT-001",
    "treatment_start": "2025-03-03",
    "timezone": "Africa/Johannesburg",
    "language": "en",
    "regimen": {"drug": "cycloserine", "dose_mg_per_day": 750},
}
ENTRY = {
    "instrument": "PHQ-9",
    "offset_days": 0,
    "repeat_every_days": 14,
    "until_day": 168,
    "time_of_day": "09:00",
    "window_hours": 72,
}


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "invalid"
    return body["error"]["fields"]


def test_nested_unknown_field_is_named_and_nothing_is_saved(admin_client_api):
    SiteFactory(code="cpt")
    body = {**ENROLMENT, "regimen": {**ENROLMENT["regimen"], "weight_kg": 60}}

    response = admin_client_api.post("/api/v1/subjects/", body, format="json")

    assert fields_of(response) == {"regimen.weight_kg": ["Unknown field."]}
    assert Subject.objects.count() == 0
    # The same body without the unknown field is accepted: the 400 was for it alone.
    assert admin_client_api.post("/api/v1/subjects/", ENROLMENT, format="json").status_code == 201


def test_unknown_fields_across_endpoints(admin_client_api):
    site = SiteFactory(code="cpt")
    schedule = ScheduleFactory(site=site)
    subject = SubjectFactory(site=site)
    user = UserFactory()
    alert = AlertFactory(subject=subject)
    cases = [
        ("post", "/api/v1/sites/", {"code": "x", "name": "X", "timezone": "UTC", "colour": 1}),
        ("patch", "/api/v1/sites/cpt/", {"name": "Cape Town", "nmae": "typo"}),
        (
            "post",
            "/api/v1/users/",
            {"username": "u1", "password": "a-Long-pass-4821", "email": "u@x.org", "role": "x"},
        ),
        (
            "post",
            f"/api/v1/users/{user.staff_profile.public_id}/channels/",
            {"kind": "email", "address": "u@x.org", "priority": 1},
        ),
        (
            "post",
            "/api/v1/schedules/",
            {"name": "S", "site": "cpt", "entries": [{**ENTRY, "window": 72}]},
        ),
        ("patch", f"/api/v1/schedules/{schedule.pk}/", {"name": "S", "default": True}),
        ("patch", f"/api/v1/subjects/{subject.pk}/", {"language": "en", "lang": "en"}),
        (
            "post",
            f"/api/v1/subjects/{subject.pk}/cmax-results/",
            {"value": 30, "unit": "ug/mL", "sampled_at": "2025-03-03T08:00:00Z", "lab": "x"},
        ),
        ("post", f"/api/v1/alerts/{alert.pk}/resolve/", {"note": "seen", "outcome": "x"}),
    ]
    expected = [
        "colour",
        "nmae",
        "role",
        "priority",
        "entries.0.window",
        "default",
        "lang",
        "lab",
        "outcome",
    ]

    got = [
        list(fields_of(getattr(admin_client_api, method)(url, body, format="json")))
        for method, url, body in cases
    ]

    assert [field for fields in got for field in fields if field in expected] == expected
    assert Schedule.objects.count() == 1


def test_staff_token_request_with_an_unknown_field_is_400(api_client):
    MembershipFactory()

    response = api_client.post(
        "/api/v1/auth/token/", {"username": "x", "password": "y", "otp": "1"}, format="json"
    )

    assert "otp" in fields_of(response)


def test_every_serializer_of_the_project_refuses_unknown_fields():
    import importlib

    modules = [
        "config.api",
        "questionnaires.api.serializers",
        "questionnaires.api.views",
        "notifications.api.alerts",
        "notifications.api.channels",
        "notifications.api.exports",
        "notifications.api.fhir",
        *(
            f"screening.api.{name}"
            for name in (
                "activation",
                "admin_api",
                "auth",
                "cmax",
                "phone",
                "profiles",
                "responses",
                "schedules",
                "subjects",
            )
        ),
    ]
    lax = []
    for module in map(importlib.import_module, modules):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, serializers.BaseSerializer)
                and value.__module__ == module.__name__
                and not issubclass(value, StrictFieldsMixin)
            ):
                lax.append(f"{module.__name__}.{name}")

    assert lax == []


def test_a_known_but_unchangeable_subject_field_says_why_rather_than_unknown(admin_client_api):
    subject = SubjectFactory()

    response = admin_client_api.patch(
        f"/api/v1/subjects/{subject.pk}/", {"site": "other", "nickname": "x"}, format="json"
    )

    assert fields_of(response) == {
        "site": ["Cannot be changed here (see withdraw and regimen-changes)."]
    }
