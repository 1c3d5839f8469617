"""Urgent findings as events (rules.urgent_findings): each newly received result on its own.

A form that by itself meets D1, D2 or D3 fires whatever newer results exist and whatever its
completion time; the reasons say when it was completed and entered where those differ.
"""

from dataclasses import replace
from datetime import timedelta

import pytest

from screening.rules import EvaluationInput, Thresholds, urgent_findings
from tests.screening.test_rules import NOW, cmax, gad7, phq9

DEFAULT = Thresholds()


def fired(*results, current_cmax=None) -> list[tuple[str, str]]:
    """Return (rule, severity) of the urgent findings of the results received now."""
    inp = EvaluationInput(now=NOW, latest={}, bpns=None, cmax=current_cmax, regimen=None)
    received = [replace(r, received_at=NOW) if r.received_at is None else r for r in results]
    return [(f.rule, f.severity) for f in urgent_findings(received, inp, DEFAULT)]


@pytest.mark.parametrize(
    ("item9", "expected"),
    [(0, []), (1, [("D1", "urgent")]), (3, [("D1", "urgent")]), (None, [("D1", "urgent")])],
)
def test_item9_at_and_beside_the_threshold_fires_d1(item9, expected):
    assert fired(phq9(5, item9=item9)) == expected


def test_an_invalid_form_with_item9_still_fires_d1():
    assert fired(phq9(None, item9=2, valid=False)) == [("D1", "urgent")]


@pytest.mark.parametrize(("total", "expected"), [(19, []), (20, [("D2", "urgent")])])
def test_phq9_total_at_and_beside_20_fires_d2(total, expected):
    assert fired(phq9(total)) == expected


@pytest.mark.parametrize(
    ("total", "value", "expected"),
    [
        (15, "35.1", [("D3", "urgent")]),
        (14, "35.1", []),
        (15, "35", []),  # 35.0 is not above the ceiling
        (15, None, []),  # no current Cmax
    ],
)
def test_d3_needs_a_total_of_15_and_the_current_cmax_above_the_ceiling(total, value, expected):
    current = cmax(value) if value is not None else None
    assert fired(phq9(total), current_cmax=current) == expected
    assert fired(gad7(total), current_cmax=current) == expected


def test_a_form_completed_20_days_ago_and_entered_today_fires_and_says_both_times():
    late = phq9(4, item9=3, age=timedelta(days=20))
    inp = EvaluationInput(now=NOW, latest={}, bpns=None, cmax=None, regimen=None)
    [finding] = urgent_findings([replace(late, received_at=NOW)], inp, DEFAULT)
    assert finding.rule == "D1"
    [reason] = finding.reasons
    assert reason.text.endswith("(completed 20 days ago, entered today)")
    assert reason.inputs["completed_at"] == late.completed_at.isoformat()
    assert reason.inputs["received_at"] == NOW.isoformat()
    assert finding.recommended_actions  # never an urgent finding without an action


def test_a_form_entered_the_day_it_was_completed_has_no_timing_note():
    inp = EvaluationInput(now=NOW, latest={}, bpns=None, cmax=None, regimen=None)
    on_time = replace(phq9(4, item9=1, age=timedelta(hours=2)), received_at=NOW)
    [finding] = urgent_findings([on_time], inp, DEFAULT)
    assert "entered" not in finding.reasons[0].text


def test_every_urgent_form_of_an_evaluation_counts_whatever_else_arrived_with_it():
    """A benign form received in the same evaluation does not hide an urgent one."""
    urgent = phq9(4, item9=2, age=timedelta(days=3), id="urgent")
    benign = phq9(2, item9=0, age=timedelta(hours=1), id="benign")
    inp = EvaluationInput(now=NOW, latest={}, bpns=None, cmax=None, regimen=None)
    findings = urgent_findings(
        [replace(urgent, received_at=NOW), replace(benign, received_at=NOW)], inp, DEFAULT
    )
    assert [(f.rule, f.response_ids) for f in findings] == [("D1", ("urgent",))]
