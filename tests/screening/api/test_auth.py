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


def test_a_staff_token_expires_and_a_subject_token_does_not(settings):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from tests.factories import SubjectFactory, UserFactory, staff_client, subject_client

    settings.STAFF_TOKEN_TTL_HOURS = 24
    staff = staff_client(UserFactory(is_staff=True))
    phone, _ = subject_client(SubjectFactory())

    with time_machine.travel(timezone.now() + timedelta(hours=23, minutes=59)):
        before = (staff.get("/api/v1/sites/").status_code, phone.get("/api/v1/me/").status_code)
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        after = (staff.get("/api/v1/sites/").status_code, phone.get("/api/v1/me/").status_code)

    assert (before, after) == ((200, 200), (401, 200))
