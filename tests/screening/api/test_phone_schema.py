"""The phone and response endpoints are described in the OpenAPI schema, without warnings."""

import io

import yaml
from django.core.management import call_command

OWN_FILES = ("screening/api/phone.py", "screening/api/responses.py", "screening/api/activation.py")


def test_schema_describes_the_phone_endpoints_without_warnings(capsys, tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--file", str(target), stdout=io.StringIO())
    problems = [
        line for line in capsys.readouterr().err.splitlines() if any(f in line for f in OWN_FILES)
    ]
    schema = yaml.safe_load(target.read_text())

    assert problems == []
    paths = schema["paths"]
    assert sorted(p for p in paths if p.startswith("/api/v1/me") or "subject" in p) == [
        "/api/v1/me/",
        "/api/v1/me/assessments/",
        "/api/v1/me/assessments/{assessment_id}/response/",
        "/api/v1/me/logout/",
        "/api/v1/subject-auth/activate/",
        "/api/v1/subjects/{subject_id}/activation-code/",
        "/api/v1/subjects/{subject_id}/responses/",
        "/api/v1/subjects/{subject_id}/revoke-tokens/",
    ]
    submit = paths["/api/v1/me/assessments/{assessment_id}/response/"]["post"]
    assert [p["name"] for p in submit["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
