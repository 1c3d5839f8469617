"""A simulated cohort: random histories posted in shuffled order, some late, some backdated.

200 subjects at two sites. Each gets PHQ-9, GAD-7 and NEURO-SX forms completed at random times
over the last 40 days, and sometimes one Cmax; everything is posted through the staff API in one
shuffled stream, evaluations run at random moments (so several forms are often pending at once,
as behind a slow worker), and clinicians resolve some alerts along the way.

The urgent rules are stated again here, independently of the code, on each form alone:
- D1: PHQ-9 item 9 answered >= 1, or left blank;
- D2: a complete PHQ-9 totalling >= 20;
- D3: a complete PHQ-9 or GAD-7 totalling >= 15, posted after the subject's Cmax, when that
  Cmax is above 35 µg/mL and was sampled within the last 28 days.
Every form meeting one must be the evidence of an alert naming that rule (0 missed), each form
fires each rule in one alert only (0 duplicates), and no alert names a rule its form does not meet.
"""

import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.evaluation import evaluate_subject
from notifications.models import Alert
from tests.factories import (
    SiteFactory,
    SubjectFactory,
    UserFactory,
    gad7_answers,
    neuro_answers,
    phq9_answers,
    staff_client,
)

# Bounded (about 30 s of CPU), but longer than the fast loop wants: run by `make test`.
pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SUBJECTS = 200
URGENT = {"D1", "D2", "D3"}


def random_phq9(rng: random.Random) -> tuple[dict, int | None, int]:
    """Return answers, the item-9 answer (None: blank) and the total of a random PHQ-9."""
    roll = rng.random()
    if roll < 0.08:  # item 9 blank; the other items kept low so no total rule can fire
        item9, total = None, rng.randint(0, 12)
    elif roll < 0.2:
        item9 = rng.randint(1, 3)
        total = rng.randint(item9, 24 + item9)
    else:  # the other eight items score at most 24
        item9, total = 0, rng.choice([rng.randint(0, 24), rng.randint(14, 21)])
    return phq9_answers(total, item9=item9), item9, total


def expected_rules(form: dict, cmax: dict | None, now) -> set[str]:
    """The urgent rules a form meets on its own (the module docstring's statement)."""
    rules = set()
    if form["instrument"] == "PHQ-9":
        if form["item9"] is None or form["item9"] >= 1:
            rules.add("D1")
        if form["item9"] is not None and form["total"] >= 20:
            rules.add("D2")
    complete = form["instrument"] == "GAD-7" or form["item9"] is not None
    if (
        complete
        and form["instrument"] in ("PHQ-9", "GAD-7")
        and form["total"] >= 15
        and cmax is not None
        and cmax["posted_before"] < form["order"]
        and cmax["value"] > Decimal("35")
        and now - cmax["sampled_at"] <= timedelta(days=28)
    ):
        rules.add("D3")
    return rules


def test_no_urgent_finding_is_missed_or_doubled_in_a_shuffled_late_backdated_cohort():
    rng = random.Random(20261201)
    now = timezone.now()
    sites = [SiteFactory(code="sim-a"), SiteFactory(code="sim-b")]
    clients = {site.pk: staff_client(UserFactory(site=site)) for site in sites}
    subjects = [SubjectFactory(site=sites[i % 2], study_id=f"SIM-{i:03d}") for i in range(SUBJECTS)]

    stream = []  # (subject, kind, payload)
    for subject in subjects:
        for _ in range(rng.randint(1, 4)):
            answers, item9, total = random_phq9(rng)
            stream.append((subject, "PHQ-9", {"answers": answers, "item9": item9, "total": total}))
        if rng.random() < 0.5:
            total = rng.choice([rng.randint(0, 21), rng.randint(14, 21)])
            stream.append((subject, "GAD-7", {"answers": gad7_answers(total), "total": total}))
        if rng.random() < 0.3:
            stream.append((subject, "NEURO-SX", {"answers": neuro_answers(rng.randint(0, 10))}))
        if rng.random() < 0.4:
            value = Decimal(rng.choice(["12", "28", "35", "35.1", "41", "52"]))
            stream.append((subject, "cmax", {"value": value}))
    rng.shuffle(stream)

    forms = {}  # response id -> form description
    cmax_of = {}  # subject id -> its Cmax
    for order, (subject, kind, data) in enumerate(stream):
        client = clients[subject.site_id]
        if kind == "cmax":
            sampled_at = (now - timedelta(days=rng.randint(0, 40), hours=2)).replace(microsecond=0)
            posted = client.post(
                f"/api/v1/subjects/{subject.pk}/cmax-results/",
                {
                    "value": str(data["value"]),
                    "unit": "ug/mL",
                    "sampled_at": sampled_at.isoformat(),
                    "hours_post_dose": "2",
                    "lab_reference": f"LAB-{subject.study_id}",
                },
                format="json",
            )
            assert posted.status_code == 201, posted.json()
            cmax_of[subject.pk] = {
                "value": data["value"],
                "sampled_at": sampled_at,
                "posted_before": order,
            }
        else:
            # Completed up to 40 days ago: late entries of old paper forms and recent ones mixed.
            completed_at = now - timedelta(days=rng.randint(0, 40), hours=rng.randint(1, 20))
            posted = client.post(
                f"/api/v1/subjects/{subject.pk}/responses/",
                {
                    "instrument": kind,
                    "answers": data["answers"],
                    "completed_at": completed_at.isoformat(),
                    "source": "paper",
                },
                format="json",
            )
            assert posted.status_code == 201, posted.json()
            forms[posted.json()["id"]] = {
                "instrument": kind,
                "subject": subject.pk,
                "order": order,
                "item9": data.get("item9"),
                "total": data.get("total"),
            }
        if rng.random() < 0.3:  # a worker that is sometimes behind: forms pile up pending
            evaluate_subject(subject_id=subject.pk)
        if rng.random() < 0.05:  # a clinician resolves whatever is open for this subject
            for alert in Alert.objects.filter(subject=subject).exclude(status="resolved"):
                client.post(
                    f"/api/v1/alerts/{alert.pk}/resolve/",
                    {"action_taken": "referred"},
                    format="json",
                )
    for subject in subjects:  # the sweep catches up with everything still pending
        evaluate_subject(subject_id=subject.pk)

    fired = defaultdict(list)  # (rule, response id) -> alert ids naming it
    for alert in Alert.objects.all():
        for reason in alert.reasons:
            response_id = reason.get("inputs", {}).get("response_id")
            if reason["rule"] in URGENT and response_id:
                if alert.pk not in fired[(reason["rule"], response_id)]:
                    fired[(reason["rule"], response_id)].append(alert.pk)
    expected = {
        (rule, response_id)
        for response_id, form in forms.items()
        for rule in expected_rules(form, cmax_of.get(form["subject"]), now)
    }
    missed = expected - set(fired)
    doubled = {key: alerts for key, alerts in fired.items() if len(alerts) > 1}
    wrong = {
        (rule, response_id)
        for rule, response_id in fired
        if rule in ("D1", "D2") and rule not in expected_rules(forms[response_id], None, now)
    }
    assert len(expected) > 100  # the cohort exercises the rules
    assert (missed, doubled, wrong) == (set(), {}, set())
