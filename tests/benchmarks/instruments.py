"""Benchmarks of the questionnaires app: scoring and the instrument endpoint."""

import random

from questionnaires.scoring import get_scorer, score

from . import Case, benchmark

ANSWER_SETS = 10_000
PHQ9_ITEMS = sorted(get_scorer("PHQ-9", 1).items)


@benchmark(f"score {ANSWER_SETS:,} PHQ-9 answer sets", baseline="sum the same lists in Python")
def phq9_scoring() -> Case:
    generator = random.Random(20260101)  # the same answers in every run
    lists = [[generator.randint(0, 3) for _ in PHQ9_ITEMS] for _ in range(ANSWER_SETS)]
    answer_sets = [dict(zip(PHQ9_ITEMS, values, strict=True)) for values in lists]

    def score_all() -> None:
        for answers in answer_sets:
            score("PHQ-9", 1, answers)

    def sum_all() -> None:
        for values in lists:
            sum(values)

    return Case(subject=score_all, baseline=sum_all)


@benchmark("GET /api/v1/instruments/PHQ-9/", baseline="GET /healthz (same client)")
def instrument_detail() -> Case:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from screening.models import AccessToken

    user = get_user_model().objects.create_user(username="bench", password=None)
    _, key = AccessToken.issue(user=user)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def get(path: str):
        def call() -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")

        return call

    return Case(subject=get("/api/v1/instruments/PHQ-9/"), baseline=get("/healthz"), number=20)
