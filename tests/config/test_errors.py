"""Every error, from any layer, has the contract's shape: never HTML, never a 500."""

import pytest

from tests.conftest import celery_broker_at


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1/nope/", "/api/v1/", "/api/v2/instruments/", "/healthz/extra"]
)
def test_unknown_url_is_a_json_404(api_client, path):
    assert_error_shape(api_client.get(path), 404, "not_found")
    assert_error_shape(api_client.post(path, {}, format="json"), 404, "not_found")


@pytest.mark.django_db
def test_wrong_method_is_a_json_405(api_client):
    assert_error_shape(api_client.delete("/healthz"), 405, "method_not_allowed")
    assert_error_shape(api_client.get("/api/v1/auth/token/"), 405, "method_not_allowed")


@pytest.mark.django_db
@pytest.mark.parametrize("body", ['{"username": "a",', "not json", "\x00\xff", "[1, 2", "{}}"])
def test_malformed_json_is_a_json_400(api_client, body):
    response = api_client.generic(
        "POST", "/api/v1/auth/token/", body, content_type="application/json"
    )

    assert_error_shape(response, 400, "parse_error")


@pytest.mark.django_db
def test_validation_errors_list_each_field(api_client):
    response = api_client.post("/api/v1/auth/token/", {"username": ""}, format="json")

    error = assert_error_shape(response, 400, "invalid")
    assert error["fields"] == {
        "username": ["This field may not be blank."],
        "password": ["This field is required."],
    }


@pytest.mark.django_db
def test_wrong_content_type_is_a_json_415(api_client):
    response = api_client.generic("POST", "/api/v1/auth/token/", "a=b", content_type="text/plain")

    assert_error_shape(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_bad_token_is_a_json_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert_error_shape(
        api_client.delete("/api/v1/auth/token/current/"), 401, "authentication_failed"
    )


@pytest.mark.django_db
def test_no_token_is_a_json_401(api_client):
    assert_error_shape(api_client.delete("/api/v1/auth/token/current/"), 401, "not_authenticated")


@pytest.mark.slow
@pytest.mark.django_db
def test_login_and_activation_answer_503_not_500_while_the_cache_redis_is_down(
    api_client, private_redis, admin_user
):
    # Staff login and phone activation are rate limited by counters in the cache (Redis).
    with celery_broker_at(private_redis.url, cache=True):
        private_redis.stop()
        login = api_client.post(
            "/api/v1/auth/token/",
            {"username": "admin", "password": "admin-pass-123"},
            format="json",
        )
        activation = api_client.post(
            "/api/v1/subject-auth/activate/", {"code": "ABCD-EFGH"}, format="json"
        )
        private_redis.start()
        after = api_client.post(
            "/api/v1/auth/token/",
            {"username": "admin", "password": "admin-pass-123"},
            format="json",
        )

    for response in (login, activation):
        assert_error_shape(response, 503, "unavailable")
        assert response["Retry-After"] == "30"
    assert after.status_code == 200


@pytest.mark.django_db
def test_a_lone_surrogate_quoted_back_by_a_choice_field_is_a_400_not_a_500(admin_client_api):
    # JSON may carry "\ud800", which UTF-8 cannot encode; a choice field quotes the bad value
    # back in its message, and rendering that message must not fail.
    from tests.factories import SubjectFactory

    subject = SubjectFactory()

    response = admin_client_api.generic(
        "PATCH",
        f"/api/v1/subjects/{subject.pk}/",
        '{"sex": "\\ud800"}',
        content_type="application/json",
    )

    error = assert_error_shape(response, 400, "invalid")
    assert error["fields"] == {"sex": ['"\\ud800" is not a valid choice.']}
