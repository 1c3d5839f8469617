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
@pytest.mark.faults
@pytest.mark.django_db
def test_login_and_activation_keep_working_and_limited_while_the_cache_redis_is_down(
    api_client, private_redis, admin_user, monkeypatch
):
    from screening.api.auth import StaffLoginThrottle

    # Staff login and phone activation are rate limited by counters in the cache: Redis, failing
    # over to the database cache while Redis is unreachable (config/cache.py).
    monkeypatch.setattr(StaffLoginThrottle, "rate", "3/min", raising=False)
    login = {"username": "admin", "password": "admin-pass-123"}
    with celery_broker_at(private_redis.url, cache=True):
        from django.core.cache import cache

        private_redis.stop()
        logins = [api_client.post("/api/v1/auth/token/", login, format="json") for _ in range(4)]
        activation = api_client.post(
            "/api/v1/subject-auth/activate/", {"code": "ABCD-EFGH"}, format="json"
        )
        private_redis.start()
        cache.primary.clear()
        cache._primary_down_until = 0  # as after RETRY_PRIMARY_AFTER
        after = api_client.post("/api/v1/auth/token/", login, format="json")
        cache.fallback.clear()

    assert [response.status_code for response in logins] == [200, 200, 200, 429]
    assert_error_shape(logins[3], 429, "throttled")
    assert_error_shape(activation, 400, "invalid_code")
    assert after.status_code == 200  # back on Redis, whose counters are fresh


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ('{"sex": "\\ud800"}', ["sex"]),
        ('{"sex": "female", "study_id": "a\\u0000b"}', ["study_id"]),
        ('{"x": {"deep": ["ok", "\\udfff"]}}', ["x.deep[1]"]),
        ('{"\\u0000": 1}', ["non_field_errors"]),
    ],
)
def test_a_nul_or_a_lone_surrogate_anywhere_in_a_json_body_is_a_400_naming_it(
    admin_client_api, body, fields
):
    from tests.factories import SubjectFactory

    subject = SubjectFactory()

    response = admin_client_api.generic(
        "PATCH", f"/api/v1/subjects/{subject.pk}/", body, content_type="application/json"
    )

    error = assert_error_shape(response, 400, "invalid")
    assert sorted(error["fields"]) == fields


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"), [("status=%00", "status"), ("a%00=1", "a\ufffd"), ("x=%ED%A0%80", None)]
)
def test_a_nul_in_a_query_string_is_a_400_before_any_view(admin_client_api, query, field):
    response = admin_client_api.get(f"/api/v1/alerts/?{query}")

    if field is None:  # not UTF-8: decoded to replacement characters, harmless
        assert response.status_code == 200
    else:
        error = assert_error_shape(response, 400, "invalid")
        assert list(error["fields"]) == [field]
