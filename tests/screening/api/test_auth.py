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
            {"username": f"nurse-{n}", "password": f"guess-{n}"},
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


def login(username: str, password: str, ip: str):
    return APIClient().post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_failed_sign_ins_from_many_addresses_lock_the_account_and_tell_the_user_and_admins(
    settings, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    from screening import tasks
    from screening.services import staff_login

    settings.STAFF_LOGIN_MAX_FAILURES = 3
    sent: list = []
    monkeypatch.setattr(staff_login, "_send_notice", sent.append)
    user = UserFactory(username="nurse", email="nurse@example.org")
    UserFactory(username="root", email="root@example.org", is_superuser=True)
    UserFactory(username="other", email="other@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        wrong = [login("nurse", f"guess-{n}", f"198.51.100.{n}") for n in range(3)]
    right = login("nurse", STAFF_PASSWORD, "198.51.100.99")

    assert [response.status_code for response in wrong] == [401, 401, 429]
    for response in (wrong[2], right):
        error = response.json()["error"]
        assert (response.status_code, error["code"]) == (429, "account_locked")
        assert "administrators have been told" in error["message"]
    assert sent == [user.pk]  # once, at the lock
    assert tasks.notify_staff_lockout(user.pk) == 2
    assert sorted(tuple(email.to) for email in mailoutbox) == [
        ("nurse@example.org",),
        ("root@example.org",),
    ]
    assert "nurse" in mailoutbox[0].subject


def test_the_lock_ends_with_its_window_and_a_success_clears_the_count(settings):
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    UserFactory(username="nurse")

    assert [login("nurse", "x", "10.1.0.1").status_code for _ in range(2)] == [401, 401]
    assert login("nurse", STAFF_PASSWORD, "10.1.0.1").status_code == 200
    # cleared: two more failures are tolerated again
    assert [login("nurse", "x", "10.1.0.2").status_code for _ in range(3)] == [401, 401, 429]
    assert login("nurse", STAFF_PASSWORD, "10.1.0.3").status_code == 429

    from django.core.cache import cache

    from screening.services.staff_login import _key

    cache.delete(_key("nurse"))  # as when the 15-minute window ends (Redis expires the key)
    assert login("nurse", STAFF_PASSWORD, "10.1.0.4").status_code == 200


def test_an_unknown_username_is_locked_the_same_way():
    answers = [login("nobody", "x", f"10.2.0.{n}").status_code for n in range(11)]

    assert answers == [401] * 9 + [429] * 2
