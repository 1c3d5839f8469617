"""A token's last use is written at most once a minute: a read stays a read."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from screening.models import AccessToken
from tests.factories import SubjectFactory, subject_client

pytestmark = pytest.mark.django_db


def test_last_use_is_written_on_first_use_then_at_most_once_a_minute(django_assert_num_queries):
    client, _ = subject_client(SubjectFactory())
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        with django_assert_num_queries(2):  # token lookup + the last-use write
            assert client.get("/api/v1/me/").status_code == 200
        with django_assert_num_queries(1):
            assert client.get("/api/v1/me/").status_code == 200
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        with django_assert_num_queries(1):
            client.get("/api/v1/me/")
    assert AccessToken.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        with django_assert_num_queries(2):
            client.get("/api/v1/me/")
    assert AccessToken.objects.get().last_used_at == start + timedelta(seconds=60)
