"""Tests for the issue-10 rules of screening/rules.py and the peak window of screening/cmax.py.

B1 (below the target range), W1 (weekly TDM overdue), the incomplete PHQ-9/GAD-7 lower bound,
the pyridoxine rule and actions that fit the finding, at and beside each threshold.
"""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from screening.cmax import CmaxSample, select_current_cmax
from screening.rules import (
    EvaluationInput,
    Regimen,
    ScreenResult,
    WeeklyMonitoring,
    evaluate,
    required_pyridoxine_mg,
    select_latest_screens,
)
from tests.screening.test_rules import (
    CASES,
    DEFAULT,
    NOW,
    cmax,
    gad7,
    make_input,
    neuro,
    phq9,
    summarise,
)

B1 = ("B1", "dose_review", "routine")
W1 = ("W1", "tdm_needed", "routine")
C1 = ("C1", "clinical_review", "routine")
T1 = ("T1", "tdm_needed", "high")


def regimen(dose: int = 500, *, pyridoxine: int | None = 150, renal: bool = False) -> Regimen:
    return Regimen("cycloserine", dose, pyridoxine, False, False, False, renal_impairment=renal)


# --- B1: Cmax below the floor (20 µg/mL, WHO 2014) ------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("19.9", [B1]), ("19.999", [B1]), ("20.0", []), ("20.001", []), ("35.0", [])],
)
def test_b1_fires_strictly_below_the_floor(value, expected):
    findings = evaluate(make_input(current_cmax=cmax(value), regimen=regimen()), DEFAULT)

    assert summarise(findings) == expected


def test_b1_carries_the_floor_its_source_and_the_below_range_actions():
    (finding,) = evaluate(make_input(current_cmax=cmax("12", id="c-12")), DEFAULT)

    assert finding.cmax_ids == ("c-12",)
    assert finding.reasons[0].text == (
        "Current Cmax 12 µg/mL (< 20 µg/mL): below the target range (WHO 2014)"
    )
    assert finding.reasons[0].inputs["floor_ug_per_ml"] == "20"
    assert finding.recommended_actions == DEFAULT.below_floor_actions
    assert any("6 h sample" in action for action in finding.recommended_actions)


def test_b1_follows_the_profile_floor():
    profile = replace(DEFAULT, cmax_floor=Decimal("15"))

    assert summarise(evaluate(make_input(current_cmax=cmax("14.9")), profile)) == [B1]
    assert summarise(evaluate(make_input(current_cmax=cmax("15")), profile)) == []


def test_a_positive_screen_with_a_low_cmax_gives_c1_and_b1():
    findings = evaluate(make_input(phq9(12), current_cmax=cmax("8.0"), regimen=regimen()), DEFAULT)

    assert summarise(findings) == [B1, C1]


# --- peak window (1-7 h after the dose, inclusive) ------------------------------------------


def sample(hours: str, value: str = "30", *, id: str | None = None, age=timedelta(days=1)):
    return CmaxSample(id or f"h{hours}", Decimal(value), NOW - age, Decimal(hours))


@pytest.mark.parametrize(
    ("hours", "counts"),
    [("0.99", False), ("1.00", True), ("2", True), ("6", True), ("7.00", True), ("7.01", False)],
)
def test_only_samples_inside_the_peak_window_count_as_cmax(hours, counts):
    current = select_current_cmax(
        [sample(hours)],
        now=NOW,
        recency_days=28,
        latest_dose_change_at=None,
        peak_window=DEFAULT.peak_window,
    )

    assert (current is not None) == counts


def test_a_later_trough_does_not_replace_the_peak_of_the_occasion_before():
    peak = sample("2", "30", id="peak", age=timedelta(days=2))
    trough = sample("23", "10", id="trough", age=timedelta(days=1))

    current = select_current_cmax(
        [peak, trough],
        now=NOW,
        recency_days=28,
        latest_dose_change_at=None,
        peak_window=DEFAULT.peak_window,
    )

    assert current is not None and current.id == "peak"


def test_without_a_window_every_sample_counts_as_before():
    current = select_current_cmax(
        [sample("23", "10", id="trough")], now=NOW, recency_days=28, latest_dose_change_at=None
    )

    assert current is not None and current.id == "trough"


# --- W1: weekly monitoring overdue (7 days ± 1 hour, each trigger) --------------------------

SEVEN_DAYS = timedelta(days=7)
HOUR = timedelta(hours=1)


def weekly_input(trigger: str, last_sample_age: timedelta | None) -> EvaluationInput:
    last = NOW - last_sample_age if last_sample_age is not None else None
    since = NOW - timedelta(days=60)
    screens: tuple[ScreenResult, ...] = ()
    current = None
    if last is not None:
        current = CmaxSample("last", Decimal("25"), last, Decimal("2"))
    if trigger == "renal":
        reg = regimen(500, renal=True)
    elif trigger == "dose":
        reg = regimen(750)
    else:  # a positive neurotoxicity screen, with a current in-range Cmax
        reg = regimen(500)
        screens = (neuro(1, age=timedelta(days=1)),)
    return EvaluationInput(
        now=NOW,
        latest={screen.instrument: screen for screen in screens},
        bpns=None,
        cmax=current,
        regimen=reg,
        weekly=WeeklyMonitoring(
            last_sampled_at=last,
            dose_since=since if trigger == "dose" else None,
            renal_since=since if trigger == "renal" else None,
        ),
    )


@pytest.mark.parametrize("trigger", ["renal", "dose", "neuro"])
@pytest.mark.parametrize(
    ("age", "overdue"),
    [(SEVEN_DAYS - HOUR, False), (SEVEN_DAYS, False), (SEVEN_DAYS + HOUR, True)],
)
def test_w1_fires_when_no_peak_sample_in_the_last_7_days(trigger, age, overdue):
    findings = evaluate(weekly_input(trigger, age), DEFAULT)

    assert (W1 in summarise(findings)) == overdue


@pytest.mark.parametrize(("dose", "fires"), [(500, False), (501, True)])
def test_w1_dose_trigger_is_above_500_mg_per_day(dose, fires):
    inp = replace(
        weekly_input("dose", SEVEN_DAYS + HOUR),
        regimen=regimen(dose),
    )

    assert (W1 in summarise(evaluate(inp, DEFAULT))) == fires


def test_w1_without_any_trigger_never_fires():
    inp = replace(weekly_input("renal", timedelta(days=20)), regimen=regimen(500, renal=False))

    assert summarise(evaluate(inp, DEFAULT)) == []


def test_w1_overdue_period_starts_a_week_after_the_last_sample_and_stays_put():
    inp = weekly_input("dose", timedelta(days=10))
    later = replace(inp, now=NOW + timedelta(days=2))

    (first,) = [f for f in evaluate(inp, DEFAULT) if f.rule == "W1"]
    (second,) = [f for f in evaluate(later, DEFAULT) if f.rule == "W1"]

    expected = (NOW - timedelta(days=10) + SEVEN_DAYS).isoformat()
    assert first.reasons[0].inputs["overdue_since"] == expected
    assert second.reasons == first.reasons  # same reason: no new period, nothing new to add
    assert first.response_ids == () and first.cmax_ids == ()
    assert first.recommended_actions == DEFAULT.weekly_tdm_actions


def test_w1_with_no_sample_ever_is_overdue_since_the_trigger_began():
    inp = weekly_input("renal", None)

    (finding,) = evaluate(inp, DEFAULT)

    assert finding.rule == "W1"
    assert finding.reasons[0].inputs["overdue_since"] == (NOW - timedelta(days=60)).isoformat()
    assert "none on record" in finding.reasons[0].text


def test_t1_and_not_w1_when_a_positive_screen_has_no_current_cmax():
    inp = replace(weekly_input("neuro", None), cmax=None)

    assert [f.rule for f in evaluate(inp, DEFAULT) if f.category == "tdm_needed"] == ["T1"]


# --- incomplete PHQ-9 / GAD-7: a lower bound ------------------------------------------------


def incomplete(instrument: str, answered_total: int, unanswered: int, *, id="inc", age=None):
    return ScreenResult(
        id,
        instrument,
        NOW - (age or timedelta(hours=2)),
        None,
        None,
        (),
        False,
        item9=0 if instrument == "PHQ-9" else None,
        answered_total=answered_total,
        unanswered=unanswered,
    )


@pytest.mark.parametrize("instrument", ["PHQ-9", "GAD-7"])
@pytest.mark.parametrize(("answered_total", "expected"), [(9, []), (10, [T1])])
def test_an_incomplete_form_whose_answered_items_reach_10_is_a_positive_screen(
    instrument, answered_total, expected
):
    # GAD-7: 2 missing answers make it invalid; PHQ-9: 3 (up to 2 are prorated, see below).
    form = incomplete(instrument, answered_total, 3 if instrument == "PHQ-9" else 2)
    selected = select_latest_screens([form], now=NOW, thresholds=DEFAULT)
    inp = EvaluationInput(
        now=NOW,
        latest=selected.latest,
        bpns=None,
        cmax=None,
        regimen=None,
        phq9_invalid=selected.phq9_invalid,
        incomplete_scores=selected.incomplete_scores,
    )

    findings = evaluate(inp, DEFAULT)

    assert summarise(findings) == expected
    if expected:
        text = findings[0].reasons[0].text
        assert f"incomplete ({form.unanswered} item(s) unanswered)" in text
        assert "at least 10" in text
        assert findings[0].reasons[0].inputs["total_is_lower_bound"] is True
        assert findings[0].response_ids == ("inc",)


def test_a_phq9_with_two_missing_answers_is_prorated_not_bounded():
    # Two missing items are prorated by the scorer (9 answered -> 12): a valid form.
    from questionnaires.scoring import score_phq9

    answers = {f"phq9_{n}": v for n, v in enumerate([3, 3, 3, 0, 0, 0, 0], start=1)}
    answers["phq9_9"] = 0
    del answers["phq9_7"]
    score = score_phq9({**answers, "phq9_8": None})

    assert (score.valid, score.prorated, score.total) == (True, True, 12)


def test_a_newer_valid_form_supersedes_the_incomplete_one():
    form = incomplete("GAD-7", 12, 2, age=timedelta(days=2))
    newer = gad7(3)
    selected = select_latest_screens([form, newer], now=NOW, thresholds=DEFAULT)

    assert selected.incomplete_scores == {}


def test_an_incomplete_form_supersedes_an_older_valid_positive_one_only_if_positive():
    older = phq9(14, age=timedelta(days=3), id="old")
    low = incomplete("PHQ-9", 4, 3, id="new")
    selected = select_latest_screens([older, low], now=NOW, thresholds=DEFAULT)

    # The newer form reaches nothing certain: the older valid form still counts.
    assert selected.incomplete_scores == {}
    assert selected.latest["PHQ-9"].response_id == "old"


# --- pyridoxine: 50 mg per 250 mg, at least 100 mg/day; >= 200 mg/day flagged ---------------


@pytest.mark.parametrize(
    ("dose", "required"), [(250, 100), (500, 100), (750, 150), (1000, 200), (600, 120)]
)
def test_required_pyridoxine(dose, required):
    assert required_pyridoxine_mg(regimen(dose), DEFAULT) == required


@pytest.mark.parametrize(
    ("dose", "pyridoxine", "low", "high"),
    [
        (750, 149, True, False),  # below 50 mg per 250 mg (150)
        (750, 150, False, False),
        (250, 99, True, False),  # below the adult 100 mg/day
        (250, 100, False, False),
        (1000, 199, True, False),
        (1000, 200, False, True),  # >= 200 mg/day: more neuropathy (Court 2021)
        (750, 199, False, False),
    ],
)
def test_pyridoxine_flags_in_neuropathy_actions(dose, pyridoxine, low, high):
    inp = make_input(
        neuro(1), current_cmax=cmax("25"), regimen=regimen(dose, pyridoxine=pyridoxine)
    )

    (finding, *_) = [f for f in evaluate(inp, DEFAULT) if f.rule == "C1"]
    actions = " ".join(finding.recommended_actions)

    assert ("below" in actions and "50 mg per 250 mg" in actions) == low
    assert (f"≥ {DEFAULT.pyridoxine_flag_mg} mg/day" in actions) == high


# --- actions that fit the finding ------------------------------------------------------------


def test_d1_on_an_unanswered_item9_asks_to_contact_and_does_not_suspend():
    (finding,) = [f for f in evaluate(make_input(phq9(3, item9=None)), DEFAULT) if f.rule == "D1"]

    assert finding.recommended_actions == DEFAULT.item9_unanswered_actions
    assert "same day" in finding.recommended_actions[0]
    assert not any("Suspend" in action for action in finding.recommended_actions)


@pytest.mark.parametrize("item9", [1, 3])
def test_d1_on_an_answered_item9_recommends_suspension_pending_review(item9):
    (finding,) = [f for f in evaluate(make_input(phq9(5, item9=item9)), DEFAULT) if f.rule == "D1"]

    assert any("Suspend" in action for action in finding.recommended_actions)


def test_gad7_21_with_an_in_range_cmax_gets_an_action():
    findings = evaluate(make_input(gad7(21), current_cmax=cmax("30")), DEFAULT)

    assert summarise(findings) == [C1]
    assert findings[0].recommended_actions == DEFAULT.clinical_review_actions


@pytest.mark.parametrize(("inp", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_finding_of_the_decision_table_carries_an_action(inp, expected):
    for finding in evaluate(inp, DEFAULT):
        assert finding.recommended_actions, finding.rule


def bounded_input(instrument: str, answered_total: int, unanswered: int, current=None):
    form = incomplete(instrument, answered_total, unanswered)
    selected = select_latest_screens([form], now=NOW, thresholds=DEFAULT)
    return EvaluationInput(
        now=NOW,
        latest=selected.latest,
        bpns=None,
        cmax=current,
        regimen=None,
        phq9_invalid=selected.phq9_invalid,
        incomplete_scores=selected.incomplete_scores,
    )


@pytest.mark.parametrize(("answered_total", "d2"), [(19, False), (20, True)])
def test_an_incomplete_phq9_reaching_20_is_d2_at_least(answered_total, d2):
    findings = evaluate(bounded_input("PHQ-9", answered_total, 3), DEFAULT)

    d2_findings = [f for f in findings if f.rule == "D2"]
    assert bool(d2_findings) == d2
    if d2:
        assert d2_findings[0].reasons[0].text == (
            "PHQ-9 incomplete (3 item(s) unanswered): total at least 20 from the answered items "
            "(≥ 20): severe depressive symptoms"
        )


@pytest.mark.parametrize(("answered_total", "d3"), [(14, False), (15, True)])
def test_an_incomplete_gad7_reaching_15_with_cmax_above_the_ceiling_is_d3(answered_total, d3):
    findings = evaluate(bounded_input("GAD-7", answered_total, 2, cmax("40")), DEFAULT)

    assert ("D3" in [f.rule for f in findings]) == d3
