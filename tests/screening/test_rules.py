"""Tests for screening/rules.py: the decision table D1–E1 at every threshold and beside it."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from screening.cmax import CmaxSample
from screening.rules import (
    CATEGORY_RANK,
    SEVERITY_RANK,
    EvaluationInput,
    Finding,
    Reason,
    Regimen,
    ScreenResult,
    Thresholds,
    evaluate,
    select_latest_screens,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DEFAULT = Thresholds()

D1 = ("D1", "discontinuation", "urgent")
D2 = ("D2", "discontinuation", "urgent")
D3 = ("D3", "discontinuation", "urgent")
R1 = ("R1", "dose_review", "high")
T1 = ("T1", "tdm_needed", "high")
C1 = ("C1", "clinical_review", "routine")
R2 = ("R2", "dose_review", "routine")
E1 = ("E1", "clinical_review", "routine")


def phq9(
    total: int | None,
    *,
    item9: int | None = 0,
    valid: bool = True,
    age: timedelta = timedelta(days=1),
    id: str = "phq9",
) -> ScreenResult:
    """Build a PHQ-9 result with its item-9 flag derived from the item-9 answer."""
    flags: tuple[str, ...] = ()
    if item9 is None:
        flags = ("item9_unanswered",)
    elif item9 >= 1:
        flags = ("item9_positive",)
    return ScreenResult(id, "PHQ-9", NOW - age, total, None, flags, valid, item9=item9)


def gad7(total: int, *, age: timedelta = timedelta(days=1), id: str = "gad7") -> ScreenResult:
    """Build a valid GAD-7 result."""
    return ScreenResult(id, "GAD-7", NOW - age, total, None, (), True)


def neuro(grade: int, *, age: timedelta = timedelta(days=1), id: str = "neuro") -> ScreenResult:
    """Build a valid NEURO-SX result."""
    return ScreenResult(id, "NEURO-SX", NOW - age, None, None, (), True, grade=grade)


def neuro_incomplete(
    grade: int | None, *, age: timedelta = timedelta(days=1), id: str = "neuro-inc"
) -> ScreenResult:
    """Build an invalid NEURO-SX; with a (lower-bound) grade it is incomplete_with_symptoms."""
    flags = ("incomplete_with_symptoms",) if grade is not None else ()
    return ScreenResult(id, "NEURO-SX", NOW - age, None, None, flags, False, grade=grade)


def bpns(case: bool, *, age: timedelta = timedelta(days=3), id: str = "bpns") -> ScreenResult:
    """Build a valid BPNS examination."""
    return ScreenResult(id, "BPNS", NOW - age, None, None, (), True, grade=1, case=case)


def bpns_incomplete(
    case: bool | None, *, age: timedelta = timedelta(days=3), id: str = "bpns-inc"
) -> ScreenResult:
    """Build an invalid BPNS examination (case True: already certain; None: unknown)."""
    flags = ("incomplete_with_symptoms",)
    return ScreenResult(id, "BPNS", NOW - age, None, None, flags, False, grade=2, case=case)


def cmax(value: str, *, id: str = "cmax") -> CmaxSample:
    """Build a current Cmax sample in µg/mL."""
    return CmaxSample(id, Decimal(value), NOW - timedelta(days=2), Decimal("2"))


def make_input(
    *screens: ScreenResult,
    exam: ScreenResult | None = None,
    current_cmax: CmaxSample | None = None,
    regimen: Regimen | None = None,
    phq9_invalid: ScreenResult | None = None,
    incomplete: ScreenResult | None = None,
) -> EvaluationInput:
    """Build an evaluation input with the given latest screens."""
    return EvaluationInput(
        now=NOW,
        latest={screen.instrument: screen for screen in screens},
        bpns=exam,
        cmax=current_cmax,
        regimen=regimen,
        phq9_invalid=phq9_invalid,
        neuro_incomplete=incomplete,
    )


def make_regimen(
    *,
    pyridoxine: int | None = 150,
    isoniazid: bool = False,
    ethionamide: bool = False,
    alcohol: bool = False,
) -> Regimen:
    """Build a cycloserine regimen."""
    return Regimen("cycloserine", 750, pyridoxine, isoniazid, ethionamide, alcohol)


def summarise(findings: list[Finding]) -> list[tuple[str, str, str]]:
    """Return (rule, category, severity) per finding, in order."""
    return [(f.rule, f.category, f.severity) for f in findings]


CASES = [
    # (id, input, expected findings)
    ("nothing", make_input(), []),
    # PHQ-9 positive screen at 10 (docs/clinical-reference.md §3)
    ("phq9-9-no-cmax", make_input(phq9(9)), []),
    ("phq9-10-no-cmax", make_input(phq9(10)), [T1]),
    ("phq9-10-cmax-30", make_input(phq9(10), current_cmax=cmax("30")), [C1]),
    ("phq9-10-cmax-35.0", make_input(phq9(10), current_cmax=cmax("35.0")), [C1]),
    ("phq9-10-cmax-35.001", make_input(phq9(10), current_cmax=cmax("35.001")), [R1]),
    ("phq9-10-cmax-35.1", make_input(phq9(10), current_cmax=cmax("35.1")), [R1]),
    # D3 at 15
    ("phq9-14-cmax-35.1", make_input(phq9(14), current_cmax=cmax("35.1")), [R1]),
    ("phq9-15-cmax-35.1", make_input(phq9(15), current_cmax=cmax("35.1")), [D3, R1]),
    ("phq9-15-cmax-35.001", make_input(phq9(15), current_cmax=cmax("35.001")), [D3, R1]),
    ("phq9-15-cmax-35.0", make_input(phq9(15), current_cmax=cmax("35.0")), [C1]),
    ("phq9-15-no-cmax", make_input(phq9(15)), [T1]),
    # D2 at 20
    ("phq9-19-no-cmax", make_input(phq9(19)), [T1]),
    ("phq9-20-no-cmax", make_input(phq9(20)), [D2, T1]),
    ("phq9-19-cmax-30", make_input(phq9(19), current_cmax=cmax("30")), [C1]),
    ("phq9-20-cmax-30", make_input(phq9(20), current_cmax=cmax("30")), [D2, C1]),
    ("phq9-20-cmax-35.1", make_input(phq9(20), current_cmax=cmax("35.1")), [D2, D3, R1]),
    ("phq9-27-cmax-35.1", make_input(phq9(27), current_cmax=cmax("35.1")), [D2, D3, R1]),
    # GAD-7 positive screen at 10, D3 at 15
    ("gad7-9-no-cmax", make_input(gad7(9)), []),
    ("gad7-10-no-cmax", make_input(gad7(10)), [T1]),
    ("gad7-9-cmax-35.1", make_input(gad7(9), current_cmax=cmax("35.1")), [R2]),
    ("gad7-10-cmax-35.0", make_input(gad7(10), current_cmax=cmax("35.0")), [C1]),
    ("gad7-14-cmax-35.1", make_input(gad7(14), current_cmax=cmax("35.1")), [R1]),
    ("gad7-15-cmax-35.1", make_input(gad7(15), current_cmax=cmax("35.1")), [D3, R1]),
    ("gad7-15-cmax-35.0", make_input(gad7(15), current_cmax=cmax("35.0")), [C1]),
    ("gad7-21-no-cmax", make_input(gad7(21)), [T1]),  # GAD-7 alone never fires D2
    # D3 needs both a score >= 15 and Cmax above the ceiling
    ("phq9-14-gad7-14-35.1", make_input(phq9(14), gad7(14), current_cmax=cmax("35.1")), [R1]),
    ("phq9-9-gad7-15-35.1", make_input(phq9(9), gad7(15), current_cmax=cmax("35.1")), [D3, R1]),
    # Neuropathy symptom grade >= 1; E1 without a recent BPNS
    ("neuro-0-no-cmax", make_input(neuro(0)), []),
    ("neuro-0-cmax-35.1", make_input(neuro(0), current_cmax=cmax("35.1")), [R2]),
    ("neuro-1-no-cmax", make_input(neuro(1)), [T1, E1]),
    ("neuro-1-cmax-30", make_input(neuro(1), current_cmax=cmax("30")), [C1, E1]),
    ("neuro-3-cmax-35.1", make_input(neuro(3), current_cmax=cmax("35.1")), [R1, E1]),
    (
        "neuro-1-bpns-no-case-30",
        make_input(neuro(1), exam=bpns(False), current_cmax=cmax("30")),
        [C1],
    ),
    ("neuro-1-bpns-case-none", make_input(neuro(1), exam=bpns(True)), [T1]),
    # BPNS case is a positive screen; not a case is not
    ("bpns-case-no-cmax", make_input(exam=bpns(True)), [T1]),
    ("bpns-no-case-no-cmax", make_input(exam=bpns(False)), []),
    ("bpns-case-35.1", make_input(exam=bpns(True), current_cmax=cmax("35.1")), [R1]),
    ("bpns-no-case-35.1", make_input(exam=bpns(False), current_cmax=cmax("35.1")), [R2]),
    # R2: above the ceiling alone
    ("no-screen-cmax-35.0", make_input(current_cmax=cmax("35.0")), []),
    ("no-screen-cmax-35.001", make_input(current_cmax=cmax("35.001")), [R2]),
    ("no-screen-cmax-35.1", make_input(current_cmax=cmax("35.1")), [R2]),
    ("phq9-9-cmax-35.1", make_input(phq9(9), current_cmax=cmax("35.1")), [R2]),
    ("phq9-9-cmax-20", make_input(phq9(9), current_cmax=cmax("20")), []),
    # D1: item 9 = 0, 1, unanswered
    ("item9-0", make_input(phq9(3, item9=0)), []),
    ("item9-1", make_input(phq9(3, item9=1)), [D1]),
    ("item9-3", make_input(phq9(3, item9=3)), [D1]),
    ("item9-unanswered", make_input(phq9(3, item9=None)), [D1]),
    ("item9-1-phq9-10", make_input(phq9(10, item9=1)), [D1, T1]),
    (
        "item9-1-phq9-22-35.1",
        make_input(phq9(22, item9=1), current_cmax=cmax("35.1")),
        [D1, D2, D3, R1],
    ),
    # Invalid PHQ-9: item-9 flag still fires D1; its total fires nothing else
    ("invalid-item9-1", make_input(phq9(None, item9=1, valid=False)), [D1]),
    ("invalid-item9-unanswered", make_input(phq9(None, item9=None, valid=False)), [D1]),
    ("invalid-total-22", make_input(phq9(22, valid=False), current_cmax=cmax("35.1")), [R2]),
    (
        "newer-invalid-item9-over-valid",
        make_input(
            phq9(3, age=timedelta(days=3)),
            phq9_invalid=phq9(None, item9=1, valid=False, id="inv"),
        ),
        [D1],
    ),
    (
        "older-invalid-item9-ignored",
        make_input(
            phq9(3, age=timedelta(days=1)),
            phq9_invalid=phq9(None, item9=1, valid=False, age=timedelta(days=2), id="inv"),
        ),
        [],
    ),
    # Look-back: 14 days inclusive for questionnaires, 28 days inclusive for BPNS
    ("phq9-10-14d", make_input(phq9(10, age=timedelta(days=14))), [T1]),
    ("phq9-10-14d+1s", make_input(phq9(10, age=timedelta(days=14, seconds=1))), []),
    ("item9-14d+1s", make_input(phq9(3, item9=1, age=timedelta(days=14, seconds=1))), []),
    (
        "gad7-15-15d-35.1",
        make_input(gad7(15, age=timedelta(days=15)), current_cmax=cmax("35.1")),
        [R2],
    ),
    (
        "neuro-1-bpns-28d",
        make_input(neuro(1), exam=bpns(False, age=timedelta(days=28)), current_cmax=cmax("30")),
        [C1],
    ),
    (
        "neuro-1-bpns-28d+1s",
        make_input(
            neuro(1), exam=bpns(False, age=timedelta(days=28, seconds=1)), current_cmax=cmax("30")
        ),
        [C1, E1],
    ),
    ("bpns-case-28d+1s", make_input(exam=bpns(True, age=timedelta(days=28, seconds=1))), []),
    # Incomplete NEURO-SX: its lower-bound grade is a positive screen at the threshold (1)
    ("inc-neuro-1-no-cmax", make_input(incomplete=neuro_incomplete(1)), [T1, E1]),
    ("inc-neuro-3-no-cmax", make_input(incomplete=neuro_incomplete(3)), [T1, E1]),
    (
        "inc-neuro-1-cmax-35.0",
        make_input(incomplete=neuro_incomplete(1), current_cmax=cmax("35.0")),
        [C1, E1],
    ),
    (
        "inc-neuro-1-cmax-35.001",
        make_input(incomplete=neuro_incomplete(1), current_cmax=cmax("35.001")),
        [R1, E1],
    ),
    (
        "inc-neuro-3-bpns-no-case",
        make_input(incomplete=neuro_incomplete(3), exam=bpns(False)),
        [T1],
    ),
    # ... grade unknown (no symptom answered, no flag): nothing; passed in latest: still read
    ("inc-neuro-none", make_input(incomplete=neuro_incomplete(None)), []),
    (
        "inc-neuro-none-cmax-35.1",
        make_input(incomplete=neuro_incomplete(None), current_cmax=cmax("35.1")),
        [R2],
    ),
    ("inc-neuro-3-as-latest", make_input(neuro_incomplete(3)), [T1, E1]),
    # ... a valid form completed at or after it supersedes it; an older one does not
    (
        "inc-neuro-3-newer-valid-0",
        make_input(neuro(0), incomplete=neuro_incomplete(3, age=timedelta(days=2))),
        [],
    ),
    ("inc-neuro-3-same-time-valid-0", make_input(neuro(0), incomplete=neuro_incomplete(3)), []),
    (
        "inc-neuro-3-older-valid-0",
        make_input(neuro(0, age=timedelta(days=2)), incomplete=neuro_incomplete(3)),
        [T1, E1],
    ),
    # ... look-back window 14 days inclusive
    (
        "inc-neuro-3-14d",
        make_input(incomplete=neuro_incomplete(3, age=timedelta(days=14))),
        [T1, E1],
    ),
    (
        "inc-neuro-3-14d+1s",
        make_input(incomplete=neuro_incomplete(3, age=timedelta(days=14, seconds=1))),
        [],
    ),
    # ... a PHQ-9 passed as neuro_incomplete is ignored
    (
        "inc-neuro-wrong-instrument",
        make_input(incomplete=replace(neuro_incomplete(3), instrument="PHQ-9")),
        [],
    ),
    # Incomplete BPNS: case True counts as a case; case None is no examination
    ("inc-bpns-case-no-cmax", make_input(exam=bpns_incomplete(True)), [T1]),
    ("inc-bpns-case-35.1", make_input(exam=bpns_incomplete(True), current_cmax=cmax("35.1")), [R1]),
    ("inc-bpns-case-35.0", make_input(exam=bpns_incomplete(True), current_cmax=cmax("35.0")), [C1]),
    ("inc-bpns-unknown-no-cmax", make_input(exam=bpns_incomplete(None)), []),
    (
        "inc-bpns-unknown-35.1",
        make_input(exam=bpns_incomplete(None), current_cmax=cmax("35.1")),
        [R2],
    ),
    ("inc-bpns-unknown-neuro-1", make_input(neuro(1), exam=bpns_incomplete(None)), [T1, E1]),
    ("inc-bpns-case-neuro-1", make_input(neuro(1), exam=bpns_incomplete(True)), [T1]),
    (
        "inc-bpns-case-28d+1s",
        make_input(exam=bpns_incomplete(True, age=timedelta(days=28, seconds=1))),
        [],
    ),
    # Several positive screens: one finding per rule
    (
        "all-positive-no-cmax",
        make_input(phq9(12), gad7(11), neuro(2), exam=bpns(True)),
        [T1],
    ),
]


@pytest.mark.parametrize(("inp", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_evaluate_decision_table(
    inp: EvaluationInput, expected: list[tuple[str, str, str]]
) -> None:
    findings = evaluate(inp, DEFAULT)

    assert summarise(findings) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30.0", [C1]), ("30.1", [R1]), ("35.0", [R1])],
)
def test_evaluate_profile_ceiling_30_label(value: str, expected: list[tuple]) -> None:
    label = Thresholds(cmax_ceiling=Decimal("30"), cmax_ceiling_source="label")

    findings = evaluate(make_input(phq9(12), current_cmax=cmax(value)), label)

    assert summarise(findings) == expected


def test_thresholds_ceiling_from_string_is_decimal() -> None:
    assert Thresholds(cmax_ceiling="30").cmax_ceiling == Decimal("30")  # type: ignore[arg-type]


def test_evaluate_d1_reason_and_actions() -> None:
    findings = evaluate(make_input(phq9(3, item9=1, id="r-1")), DEFAULT)

    assert findings == [
        Finding(
            rule="D1",
            category="discontinuation",
            severity="urgent",
            reasons=(
                Reason(
                    "D1",
                    "PHQ-9 item 9 answered 1 (≥ 1): thoughts of being better off dead or of "
                    "self-harm",
                    {
                        "instrument": "PHQ-9",
                        "response_id": "r-1",
                        "completed_at": (NOW - timedelta(days=1)).isoformat(),
                        "valid": True,
                        "item9": 1,
                        "threshold": 1,
                        "flag": "item9_positive",
                    },
                ),
            ),
            recommended_actions=(
                "Assess suicide risk and psychiatric state the same day.",
                "Suspend cycloserine pending clinical review.",
                "Confirm exposure with TDM (Cmax).",
            ),
            response_ids=("r-1",),
            cmax_ids=(),
        )
    ]


def test_evaluate_d1_unanswered_reason_text() -> None:
    findings = evaluate(make_input(phq9(3, item9=None)), DEFAULT)

    assert [r.text for f in findings for r in f.reasons] == [
        "PHQ-9 item 9 not answered: ask directly about thoughts of self-harm"
    ]


def test_evaluate_r1_reasons_carry_thresholds_and_ids() -> None:
    findings = evaluate(make_input(phq9(11, id="p"), current_cmax=cmax("35.1", id="c")), DEFAULT)

    assert [
        (f.rule, [r.text for r in f.reasons], f.response_ids, f.cmax_ids) for f in findings
    ] == [
        (
            "R1",
            [
                "PHQ-9 total 11 (≥ 10): positive depression screen",
                "Current Cmax 35.1 µg/mL (> 35 µg/mL): above the ceiling (WHO 2014)",
            ],
            ("p",),
            ("c",),
        )
    ]
    assert findings[0].reasons[1].inputs == {
        "cmax_id": "c",
        "cmax_ug_per_ml": "35.1",
        "sampled_at": (NOW - timedelta(days=2)).isoformat(),
        "hours_post_dose": "2",
        "ceiling_ug_per_ml": "35",
        "ceiling_source": "WHO 2014",
        "above_ceiling": True,
    }


def test_evaluate_d3_reasons_both_scores() -> None:
    findings = evaluate(
        make_input(phq9(16, id="p"), gad7(15, id="g"), current_cmax=cmax("40", id="c")), DEFAULT
    )

    assert [(f.rule, [r.text for r in f.reasons], f.response_ids) for f in findings] == [
        (
            "D3",
            [
                "PHQ-9 total 16 (≥ 15)",
                "GAD-7 total 15 (≥ 15)",
                "Current Cmax 40 µg/mL (> 35 µg/mL): above the ceiling (WHO 2014)",
            ],
            ("p", "g"),
        ),
        (
            "R1",
            [
                "PHQ-9 total 16 (≥ 10): positive depression screen",
                "GAD-7 total 15 (≥ 10): positive anxiety screen",
                "Current Cmax 40 µg/mL (> 35 µg/mL): above the ceiling (WHO 2014)",
            ],
            ("p", "g"),
        ),
    ]


NEURO_BASE = ("Review the pyridoxine dose and isoniazid/ethionamide co-medication.",)
BPNS_EXAM = (
    "Perform the BPNS examination (vibration sense and ankle reflexes): none in the last 28 days."
)
DOSE_REVIEW = ("Review the cycloserine dose: reduce it.", "Repeat TDM after the dose change.")
TDM = ("Request TDM: sample 2 h post-dose (and 6 h post-dose if possible).",)


def pyridoxine_flag(dose: int) -> str:
    """Return the expected pyridoxine flag text."""
    return (
        f"Pyridoxine is {dose} mg/day (≥ 200 mg/day, associated with more neuropathy than "
        "150 mg/day): review the pyridoxine dose."
    )


@pytest.mark.parametrize(
    ("pyridoxine", "expected_t1", "expected_e1"),
    [
        (199, (*TDM, *NEURO_BASE, BPNS_EXAM), (*NEURO_BASE, BPNS_EXAM)),
        (
            200,
            (*TDM, *NEURO_BASE, pyridoxine_flag(200), BPNS_EXAM),
            (*NEURO_BASE, pyridoxine_flag(200), BPNS_EXAM),
        ),
        (
            250,
            (*TDM, *NEURO_BASE, pyridoxine_flag(250), BPNS_EXAM),
            (*NEURO_BASE, pyridoxine_flag(250), BPNS_EXAM),
        ),
        (None, (*TDM, *NEURO_BASE, BPNS_EXAM), (*NEURO_BASE, BPNS_EXAM)),
    ],
)
def test_evaluate_neuropathy_actions_pyridoxine_flag(
    pyridoxine: int | None, expected_t1: tuple, expected_e1: tuple
) -> None:
    inp = make_input(neuro(1), regimen=make_regimen(pyridoxine=pyridoxine))

    findings = evaluate(inp, DEFAULT)

    assert [(f.rule, f.recommended_actions) for f in findings] == [
        ("T1", expected_t1),
        ("E1", expected_e1),
    ]


def test_evaluate_neuropathy_actions_without_bpns_prompt_when_exam_recent() -> None:
    inp = make_input(exam=bpns(True), current_cmax=cmax("36"), regimen=make_regimen(pyridoxine=200))

    findings = evaluate(inp, DEFAULT)

    assert [(f.rule, f.recommended_actions) for f in findings] == [
        ("R1", (*DOSE_REVIEW, *NEURO_BASE, pyridoxine_flag(200)))
    ]


def test_evaluate_psychiatric_only_has_no_neuropathy_actions() -> None:
    findings = evaluate(make_input(gad7(10), regimen=make_regimen(pyridoxine=200)), DEFAULT)

    assert [(f.rule, f.recommended_actions) for f in findings] == [("T1", TDM)]


@pytest.mark.parametrize(
    ("regimen", "expected_note"),
    [
        (None, None),
        (make_regimen(), None),
        (make_regimen(isoniazid=True), "isoniazid (CNS effects, neuropathy)"),
        (make_regimen(ethionamide=True), "ethionamide (neurotoxicity, seizures)"),
        (make_regimen(alcohol=True), "alcohol use (raises seizure risk)"),
        (
            make_regimen(isoniazid=True, ethionamide=True, alcohol=True),
            "ethionamide (neurotoxicity, seizures), isoniazid (CNS effects, neuropathy), "
            "alcohol use (raises seizure risk)",
        ),
    ],
)
def test_evaluate_interaction_note_on_every_finding(
    regimen: Regimen | None, expected_note: str | None
) -> None:
    inp = make_input(phq9(21, item9=2), current_cmax=cmax("35.1"), regimen=regimen)
    extra = (
        (f"Interaction: {expected_note} add(s) to cycloserine neurotoxicity.",)
        if expected_note
        else ()
    )
    discontinuation = (
        "Assess suicide risk and psychiatric state the same day.",
        "Suspend cycloserine pending clinical review.",
        "Confirm exposure with TDM (Cmax).",
    )

    findings = evaluate(inp, DEFAULT)

    assert [(f.rule, f.recommended_actions) for f in findings] == [
        ("D1", (*discontinuation, *extra)),
        ("D2", (*discontinuation, *extra)),
        ("D3", (*discontinuation, *extra)),
        ("R1", (*DOSE_REVIEW, *extra)),
    ]


def test_evaluate_no_finding_no_interaction_note() -> None:
    inp = make_input(phq9(3), regimen=make_regimen(isoniazid=True, alcohol=True))

    assert evaluate(inp, DEFAULT) == []


def test_evaluate_profile_overrides_action_texts() -> None:
    profile = Thresholds(tdm_actions=("Call the TDM lab.",))

    findings = evaluate(make_input(phq9(10)), profile)

    assert [(f.rule, f.recommended_actions) for f in findings] == [("T1", ("Call the TDM lab.",))]


def test_finding_as_dict_is_json_ready() -> None:
    findings = evaluate(make_input(neuro(2, id="n"), current_cmax=cmax("30", id="c")), DEFAULT)

    data = json.loads(json.dumps([f.as_dict() for f in findings]))

    assert [
        (d["rule"], d["category"], d["severity"], d["response_ids"], d["cmax_ids"]) for d in data
    ] == [
        ("C1", "clinical_review", "routine", ["n"], ["c"]),
        ("E1", "clinical_review", "routine", ["n"], []),
    ]
    assert data[1]["reasons"] == [
        {
            "rule": "E1",
            "text": "Neuropathy symptom grade 2 (≥ 1) and no BPNS examination in the last 28 days",
            "inputs": {
                "instrument": "NEURO-SX",
                "response_id": "n",
                "completed_at": (NOW - timedelta(days=1)).isoformat(),
                "valid": True,
                "grade": 2,
                "threshold": 1,
                "bpns_window_days": 28,
            },
        }
    ]


@pytest.mark.parametrize(
    ("threshold", "grade", "expected"),
    [
        (2, 1, []),  # a lower bound below the threshold: not certainly positive
        (2, 2, [T1, E1]),
        (2, 3, [T1, E1]),
        (3, 2, []),
        (3, 3, [T1, E1]),
    ],
)
def test_evaluate_incomplete_neuro_lower_bound_against_profile_threshold(
    threshold: int, grade: int, expected: list[tuple]
) -> None:
    profile = Thresholds(neuropathy_grade_positive=threshold)

    findings = evaluate(make_input(incomplete=neuro_incomplete(grade)), profile)

    assert summarise(findings) == expected


def test_evaluate_incomplete_neuro_reasons_say_incomplete_and_at_least() -> None:
    inp = make_input(incomplete=neuro_incomplete(3, id="n"), regimen=make_regimen())
    inputs = {
        "instrument": "NEURO-SX",
        "response_id": "n",
        "completed_at": (NOW - timedelta(days=1)).isoformat(),
        "valid": False,
        "grade": 3,
        "grade_is_lower_bound": True,
        "flag": "incomplete_with_symptoms",
        "threshold": 1,
    }

    findings = evaluate(inp, DEFAULT)

    assert [f.as_dict() for f in findings] == [
        {
            "rule": "T1",
            "category": "tdm_needed",
            "severity": "high",
            "reasons": [
                {
                    "rule": "T1",
                    "text": "Neuropathy symptom form incomplete: grade at least 3 from the "
                    "answered items (≥ 1): positive neuropathy symptom screen",
                    "inputs": inputs,
                },
                {
                    "rule": "T1",
                    "text": "No current Cmax: none within 28 days and after the latest dose change",
                    "inputs": {"cmax_id": None, "recency_days": 28},
                },
            ],
            "recommended_actions": [*TDM, *NEURO_BASE, BPNS_EXAM],
            "response_ids": ["n"],
            "cmax_ids": [],
        },
        {
            "rule": "E1",
            "category": "clinical_review",
            "severity": "routine",
            "reasons": [
                {
                    "rule": "E1",
                    "text": "Neuropathy symptom form incomplete: grade at least 3 from the "
                    "answered items (≥ 1) and no BPNS examination in the last 28 days",
                    "inputs": inputs | {"bpns_window_days": 28},
                }
            ],
            "recommended_actions": [*NEURO_BASE, BPNS_EXAM],
            "response_ids": ["n"],
            "cmax_ids": [],
        },
    ]


def test_evaluate_incomplete_bpns_case_reason_says_incomplete() -> None:
    findings = evaluate(make_input(exam=bpns_incomplete(True, id="b")), DEFAULT)

    assert [(f.rule, f.reasons[0]) for f in findings] == [
        (
            "T1",
            Reason(
                "T1",
                "BPNS examination incomplete, but its answered items already meet the "
                "neuropathy case definition (symptoms and signs)",
                {
                    "instrument": "BPNS",
                    "response_id": "b",
                    "completed_at": (NOW - timedelta(days=3)).isoformat(),
                    "valid": False,
                    "case": True,
                    "grade": 2,
                    "grade_is_lower_bound": True,
                    "flag": "incomplete_with_symptoms",
                },
            ),
        )
    ]


def test_evaluate_order_is_deterministic_and_ranked() -> None:
    inp = make_input(neuro(1), phq9(22, item9=None), gad7(16))
    reordered = replace(inp, latest=dict(reversed(list(inp.latest.items()))))

    first, second = evaluate(inp, DEFAULT), evaluate(reordered, DEFAULT)

    assert (summarise(first), first == second) == ([D1, D2, T1, E1], True)


def test_ranks_order_categories_and_severities() -> None:
    assert (
        sorted(CATEGORY_RANK, key=CATEGORY_RANK.__getitem__),
        sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__),
    ) == (
        ["clinical_review", "tdm_needed", "dose_review", "discontinuation"],
        ["routine", "high", "urgent"],
    )


def test_select_latest_screens_windows_and_validity() -> None:
    results = [
        phq9(8, age=timedelta(days=5), id="phq9-old"),
        phq9(12, age=timedelta(days=2), id="phq9-new"),
        phq9(None, item9=1, valid=False, age=timedelta(days=1), id="phq9-invalid"),
        gad7(15, age=timedelta(days=14, seconds=1), id="gad7-stale"),
        gad7(9, age=timedelta(days=14), id="gad7-edge"),
        neuro(2, age=timedelta(days=20), id="neuro-stale"),
        bpns(True, age=timedelta(days=28, seconds=1), id="bpns-stale"),
        bpns(False, age=timedelta(days=27), id="bpns-recent"),
        phq9(25, age=timedelta(days=-1), id="phq9-future"),
    ]

    selected = select_latest_screens(results, now=NOW, thresholds=DEFAULT)

    assert (
        {code: r.response_id for code, r in selected.latest.items()},
        selected.bpns.response_id if selected.bpns else None,
        selected.phq9_invalid.response_id if selected.phq9_invalid else None,
    ) == ({"PHQ-9": "phq9-new", "GAD-7": "gad7-edge"}, "bpns-recent", "phq9-invalid")


def test_select_latest_screens_invalid_older_than_valid_is_dropped() -> None:
    results = [
        phq9(None, item9=1, valid=False, age=timedelta(days=3), id="inv"),
        phq9(4, age=timedelta(days=1), id="val"),
    ]

    selected = select_latest_screens(results, now=NOW, thresholds=DEFAULT)

    assert ({c: r.response_id for c, r in selected.latest.items()}, selected.phq9_invalid) == (
        {"PHQ-9": "val"},
        None,
    )


def ids_of(selected) -> tuple:
    """Return the response ids of what select_latest_screens picked."""
    return (
        {code: r.response_id for code, r in selected.latest.items()},
        selected.bpns.response_id if selected.bpns else None,
        selected.neuro_incomplete.response_id if selected.neuro_incomplete else None,
    )


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        # the only NEURO-SX is incomplete with symptoms
        ([neuro_incomplete(3, id="inc")], ({}, None, "inc")),
        # newer than the latest valid one: kept beside it
        (
            [neuro(0, age=timedelta(days=2), id="val"), neuro_incomplete(3, id="inc")],
            ({"NEURO-SX": "val"}, None, "inc"),
        ),
        # a newer complete form (grade 0) supersedes it; so does one completed at the same time
        (
            [neuro(0, id="val"), neuro_incomplete(3, age=timedelta(days=2), id="inc")],
            ({"NEURO-SX": "val"}, None, None),
        ),
        (
            [neuro(0, id="val"), neuro_incomplete(3, id="inc")],
            ({"NEURO-SX": "val"}, None, None),
        ),
        # the latest of two incomplete ones; one without a symptom (grade None) counts for nothing
        (
            [
                neuro_incomplete(1, age=timedelta(days=3), id="inc-old"),
                neuro_incomplete(2, age=timedelta(days=2), id="inc-new"),
                neuro_incomplete(None, age=timedelta(days=1), id="inc-unknown"),
            ],
            ({}, None, "inc-new"),
        ),
        # window: 14 days inclusive
        ([neuro_incomplete(3, age=timedelta(days=14), id="inc")], ({}, None, "inc")),
        ([neuro_incomplete(3, age=timedelta(days=14, seconds=1), id="inc")], ({}, None, None)),
        # BPNS: an incomplete case counts unless a newer valid examination exists
        ([bpns_incomplete(True, id="b-inc")], ({}, "b-inc", None)),
        (
            [bpns(False, age=timedelta(days=5), id="b-val"), bpns_incomplete(True, id="b-inc")],
            ({}, "b-inc", None),
        ),
        (
            [bpns(False, id="b-val"), bpns_incomplete(True, age=timedelta(days=5), id="b-inc")],
            ({}, "b-val", None),
        ),
        # ... an incomplete examination with an unknown case is ignored
        ([bpns_incomplete(None, id="b-inc")], ({}, None, None)),
        (
            [bpns(False, age=timedelta(days=5), id="b-val"), bpns_incomplete(None, id="b-inc")],
            ({}, "b-val", None),
        ),
        (
            [bpns_incomplete(True, age=timedelta(days=28, seconds=1), id="b-inc")],
            ({}, None, None),
        ),
    ],
)
def test_select_latest_screens_incomplete_neuropathy_forms(
    results: list[ScreenResult], expected: tuple
) -> None:
    selected = select_latest_screens(results, now=NOW, thresholds=DEFAULT)

    assert ids_of(selected) == expected


def test_select_then_evaluate_incomplete_neuro_fires_and_newer_valid_silences() -> None:
    def run(results: list[ScreenResult]) -> list[tuple[str, str, str]]:
        selected = select_latest_screens(results, now=NOW, thresholds=DEFAULT)
        inp = EvaluationInput(
            NOW,
            selected.latest,
            selected.bpns,
            None,
            None,
            selected.phq9_invalid,
            selected.neuro_incomplete,
        )
        return summarise(evaluate(inp, DEFAULT))

    older = neuro_incomplete(3, age=timedelta(days=2))

    assert (run([older]), run([older, neuro(0, age=timedelta(days=1))])) == ([T1, E1], [])


def test_select_then_evaluate_stale_screen_ignored() -> None:
    results = [phq9(21, item9=2, age=timedelta(days=15)), gad7(10, age=timedelta(days=13))]
    selected = select_latest_screens(results, now=NOW, thresholds=DEFAULT)
    inp = EvaluationInput(NOW, selected.latest, selected.bpns, None, None, selected.phq9_invalid)

    assert summarise(evaluate(inp, DEFAULT)) == [T1]


def test_evaluate_invalid_phq9_passed_as_latest_still_fires_d1_only() -> None:
    inp = make_input(phq9(24, item9=2, valid=False), current_cmax=cmax("30"))

    assert summarise(evaluate(inp, DEFAULT)) == [D1]


def test_screen_result_naive_time_raises() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ScreenResult("x", "PHQ-9", datetime(2025, 1, 1), 3, None, (), True)
