"""Tokens and activation codes never appear in clear text in the database or the logs."""

import logging

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import PHQ9_ZERO, AssessmentFactory, SubjectFactory, UserFactory, staff_client


def dump_database() -> str:
    """Return every row of every table of the test database as text."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall()]
        chunks: list[str] = []
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t')  # noqa: S608 - catalogue names
            chunks.extend(row[0] for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.mark.django_db
def test_codes_and_tokens_are_not_stored_or_logged_in_clear(caplog):
    caplog.set_level(logging.DEBUG)
    subject = SubjectFactory()
    staff_api = staff_client(UserFactory(site=subject.site))
    assessment = AssessmentFactory(subject=subject)

    code = staff_api.post(f"/api/v1/subjects/{subject.pk}/activation-code/").json()["code"]
    APIClient().post("/api/v1/subject-auth/activate/", {"code": "WRONG-CODE1"})
    token = APIClient().post("/api/v1/subject-auth/activate/", {"code": code}).json()["token"]
    phone = APIClient()
    phone.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert phone.get("/api/v1/me/").status_code == 200
    submitted = phone.post(
        f"/api/v1/me/assessments/{assessment.pk}/response/",
        {"answers": PHQ9_ZERO},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert submitted.status_code == 201
    assert phone.post("/api/v1/me/logout/").status_code == 204
    assert phone.get("/api/v1/me/").status_code == 401  # a logged failure with the token sent

    dump = dump_database()
    logs = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    secrets = [token, code, code.replace("-", ""), "WRONG-CODE1", "WRONGC0DE1"]
    assert subject.study_id in dump  # the dump is real
    assert caplog.records  # and so are the logs
    assert [secret for secret in secrets if secret in dump] == []
    assert [secret for secret in secrets if secret in logs] == []
