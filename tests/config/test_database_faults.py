"""Database connections terminated under a running service: no 500, readiness says 503 or 200.

Requests go through Django's real WSGI handler (not the test client, which skips the connection
checks at request start), as under gunicorn.
"""

import io
import json

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

from screening.models import AccessToken
from tests.factories import SubjectFactory, UserFactory
from tests.support import free_port, terminate_database_connections

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def wsgi_get(path: str, token: str | None = None) -> tuple[int, dict]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    status: list[str] = []
    start_response = lambda s, headers: status.append(s)  # noqa: E731
    body = b"".join(WSGIHandler()(environ, start_response))  # type: ignore[arg-type]
    return int(status[0].split()[0]), json.loads(body)


def test_connection_health_checks_are_on():
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["CONN_MAX_AGE"] > 0


def test_requests_after_the_connections_were_terminated_are_served_on_a_fresh_one():
    user = UserFactory(site=SubjectFactory().site)
    _, token = AccessToken.issue(user=user)
    assert wsgi_get("/readyz")[0] == 200
    assert wsgi_get("/api/v1/alerts/", token)[0] == 200

    assert terminate_database_connections() >= 1

    status, body = wsgi_get("/readyz")
    assert (status, body["checks"]["database"]) == (200, {"ok": True, "backend": "postgresql"})
    assert terminate_database_connections() >= 1
    assert wsgi_get("/api/v1/alerts/", token)[0] == 200


def test_readyz_is_503_naming_the_database_when_it_cannot_connect():
    saved = connection.settings_dict
    connection.close()
    connection.settings_dict = {**saved, "PORT": str(free_port())}  # nothing listens there
    try:
        status, body = wsgi_get("/readyz")
    finally:
        connection.close()
        connection.settings_dict = saved

    assert status == 503
    assert body["failed"] == ["database"]
    assert body["error"]["code"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
