"""Staff sign-in: a bearer token for a username and password, rate limited per client."""

import pytest
from rest_framework.test import APIClient

from screening.models import AccessToken
from screening.tokens import hash_secret
from tests.factories import STAFF_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"


def test_login_returns_a_token_stored_only_as_its_hash():
    user = UserFactory(username="nurse")

    response = APIClient().post(LOGIN, {"username": "nurse", "password": STAFF_PASSWORD})

    assert response.status_code == 200
    key = response.json()["token"]
    assert list(AccessToken.objects.values_list("user", "key_hash")) == [
        (user.pk, hash_secret(key))
    ]


def test_wrong_password_is_401():
    UserFactory(username="nurse")

    response = APIClient().post(LOGIN, {"username": "nurse", "password": "wrong"})

    assert (response.status_code, response.json()["error"]["code"]) == (
        401,
        "invalid_credentials",
    )


def test_login_attempts_are_rate_limited_per_client_whatever_x_forwarded_for_says():
    UserFactory(username="nurse")
    statuses = [
        APIClient()
        .post(
            LOGIN,
            {"username": "nurse", "password": f"guess-{n}"},
            REMOTE_ADDR="10.0.9.1",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
        .status_code
        for n in range(12)
    ]

    # 10/min per client address (STAFF_LOGIN_RATE); a forged header is no new client.
    assert statuses == [401] * 10 + [429] * 2
