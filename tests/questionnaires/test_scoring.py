"""Tables of answers -> score for every instrument, at every threshold and beside it."""

import pytest

from questionnaires.scoring import (
    Score,
    ScoringError,
    UnknownScoringError,
    grade_symptoms,
    normalise_bpns_paper_value,
    registered_keys,
    score,
)

M = None  # an unanswered item


def phq9(*values, item10=None):
    """Build PHQ-9 answers from nine values (None = unanswered, key left out)."""
    assert len(values) == 9
    answers = {f"phq9_{n}": v for n, v in enumerate(values, 1) if v is not None}
    if item10 is not None:
        answers["phq9_10"] = item10
    return answers


def gad7(*values):
    """Build GAD-7 answers from seven values (None = unanswered, key left out)."""
    assert len(values) == 7
    return {f"gad7_{n}": v for n, v in enumerate(values, 1) if v is not None}


SYMPTOM_CODES = ["r_pain", "r_pins_needles", "r_numbness", "l_pain", "l_pins_needles", "l_numbness"]


def symptoms(*values):
    """Build the six neuropathy symptom answers (None = unanswered, key left out)."""
    assert len(values) == 6
    return {code: v for code, v in zip(SYMPTOM_CODES, values, strict=True) if v is not None}


def bpns(sx, vib_r, vib_l, ref_r, ref_l):
    """Build BPNS answers from six symptom values and the four signs."""
    answers = symptoms(*sx)
    signs = {"vibration_r": vib_r, "vibration_l": vib_l, "reflex_r": ref_r, "reflex_l": ref_l}
    answers.update({code: v for code, v in signs.items() if v is not None})
    return answers


def test_registry_holds_the_four_instruments():
    assert registered_keys() == [("BPNS", 1), ("GAD-7", 1), ("NEURO-SX", 1), ("PHQ-9", 1)]


# --- PHQ-9 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (phq9(0, 0, 0, 0, 0, 0, 0, 0, 0), (0, "minimal")),
        (phq9(1, 1, 1, 1, 0, 0, 0, 0, 0), (4, "minimal")),
        (phq9(1, 1, 1, 1, 1, 0, 0, 0, 0), (5, "mild")),
        (phq9(3, 3, 3, 0, 0, 0, 0, 0, 0), (9, "mild")),
        (phq9(3, 3, 3, 1, 0, 0, 0, 0, 0), (10, "moderate")),
        (phq9(3, 3, 3, 3, 2, 0, 0, 0, 0), (14, "moderate")),
        (phq9(3, 3, 3, 3, 3, 0, 0, 0, 0), (15, "moderately_severe")),
        (phq9(3, 3, 3, 3, 3, 3, 1, 0, 0), (19, "moderately_severe")),
        (phq9(3, 3, 3, 3, 3, 3, 2, 0, 0), (20, "severe")),
        (phq9(3, 3, 3, 3, 3, 3, 3, 3, 0), (24, "severe")),
    ],
)
def test_phq9_band_boundaries_with_item9_zero(answers, expected):
    total, band = expected
    assert score("PHQ-9", 1, answers) == Score(
        total=total, band=band, flags=(), prorated=False, valid=True
    )


def test_phq9_maximum_is_severe_and_item9_positive():
    assert score("PHQ-9", 1, phq9(3, 3, 3, 3, 3, 3, 3, 3, 3)) == Score(
        total=27, band="severe", flags=("item9_positive",), prorated=False, valid=True
    )


@pytest.mark.parametrize(
    ("item9", "expected_flags"),
    [(0, ()), (1, ("item9_positive",)), (2, ("item9_positive",)), (3, ("item9_positive",))],
)
def test_phq9_item9_flag_whatever_the_total(item9, expected_flags):
    result = score("PHQ-9", 1, phq9(0, 0, 0, 0, 0, 0, 0, 0, item9))
    assert result == Score(
        total=item9, band="minimal", flags=expected_flags, prorated=False, valid=True
    )


def test_phq9_item9_unanswered_is_flagged_and_prorated_not_zero():
    # 8 answered items summing 8: 8 x 9 / 8 = 9 exactly.
    result = score("PHQ-9", 1, phq9(1, 1, 1, 1, 1, 1, 1, 1, M))
    assert result == Score(
        total=9, band="mild", flags=("item9_unanswered",), prorated=True, valid=True
    )


def test_phq9_item9_none_counts_as_unanswered():
    answers = phq9(1, 1, 1, 1, 1, 1, 1, 1, 0)
    answers["phq9_9"] = None
    assert score("PHQ-9", 1, answers) == Score(
        total=9, band="mild", flags=("item9_unanswered",), prorated=True, valid=True
    )


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # one missing: 13 x 9 / 8 = 14.625 -> 15, crosses moderate -> moderately_severe
        (phq9(M, 3, 3, 3, 2, 2, 0, 0, 0), (15, "moderately_severe", ())),
        # one missing, exactly .5: 4 x 9 / 8 = 4.5 -> 5 (half up), crosses minimal -> mild
        (phq9(M, 1, 1, 1, 1, 0, 0, 0, 0), (5, "mild", ())),
        # one missing, exactly .5: 12 x 9 / 8 = 13.5 -> 14
        (phq9(3, 3, 3, 3, M, 0, 0, 0, 0), (14, "moderate", ())),
        # one missing, rounds down: 11 x 9 / 8 = 12.375 -> 12
        (phq9(3, 3, 3, 2, 0, 0, 0, M, 0), (12, "moderate", ())),
        # one missing: 18 x 9 / 8 = 20.25 -> 20 severe
        (phq9(3, 3, 3, 3, 3, 3, M, 0, 0), (20, "severe", ())),
        # two missing: 8 x 9 / 7 = 10.29 -> 10, crosses mild -> moderate
        (phq9(M, M, 3, 3, 2, 0, 0, 0, 0), (10, "moderate", ())),
        # two missing, exact: 7 x 9 / 7 = 9
        (phq9(1, 1, 1, 1, 1, 1, 1, M, M), (9, "mild", ("item9_unanswered",))),
        # two missing: 10 x 9 / 7 = 12.857 -> 13
        (phq9(3, 3, 3, 1, M, M, 0, 0, 0), (13, "moderate", ())),
        # two missing, all answered 3: 21 x 9 / 7 = 27
        (phq9(3, 3, 3, 3, 3, 3, M, M, 3), (27, "severe", ("item9_positive",))),
    ],
)
def test_phq9_prorates_one_or_two_missing_half_up(answers, expected):
    total, band, flags = expected
    assert score("PHQ-9", 1, answers) == Score(
        total=total, band=band, flags=flags, prorated=True, valid=True
    )


def test_phq9_three_missing_is_invalid():
    result = score("PHQ-9", 1, phq9(M, M, M, 3, 3, 3, 3, 3, 0))
    assert result == Score(
        total=None,
        band=None,
        flags=(),
        prorated=False,
        valid=False,
        invalid_reason=(
            "3 of 9 scored items unanswered (phq9_1, phq9_2, phq9_3); at most 2 may be prorated"
        ),
    )


def test_phq9_invalid_form_keeps_item9_positive():
    result = score("PHQ-9", 1, phq9(M, M, M, 0, 0, 0, 0, 0, 2))
    assert (result.valid, result.total, result.flags) == (False, None, ("item9_positive",))


def test_phq9_empty_form_is_invalid_and_item9_unanswered():
    result = score("PHQ-9", 1, {})
    assert (result.valid, result.total, result.band, result.flags) == (
        False,
        None,
        None,
        ("item9_unanswered",),
    )


@pytest.mark.parametrize("item10", [0, 1, 2, 3])
def test_phq9_item10_is_recorded_not_scored(item10):
    result = score("PHQ-9", 1, phq9(1, 1, 1, 1, 1, 0, 0, 0, 0, item10=item10))
    assert result == Score(total=5, band="mild", flags=(), prorated=False, valid=True)


# --- GAD-7 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (gad7(0, 0, 0, 0, 0, 0, 0), (0, "minimal")),
        (gad7(1, 1, 1, 1, 0, 0, 0), (4, "minimal")),
        (gad7(1, 1, 1, 1, 1, 0, 0), (5, "mild")),
        (gad7(3, 3, 3, 0, 0, 0, 0), (9, "mild")),
        (gad7(3, 3, 3, 1, 0, 0, 0), (10, "moderate")),
        (gad7(3, 3, 3, 3, 2, 0, 0), (14, "moderate")),
        (gad7(3, 3, 3, 3, 3, 0, 0), (15, "severe")),
        (gad7(3, 3, 3, 3, 3, 3, 3), (21, "severe")),
    ],
)
def test_gad7_band_boundaries(answers, expected):
    total, band = expected
    assert score("GAD-7", 1, answers) == Score(
        total=total, band=band, flags=(), prorated=False, valid=True
    )


def test_gad7_difficulty_item_is_not_scored():
    answers = gad7(1, 1, 1, 1, 1, 0, 0) | {"gad7_difficulty": 3}
    assert score("GAD-7", 1, answers) == Score(
        total=5, band="mild", flags=(), prorated=False, valid=True
    )


@pytest.mark.parametrize("missing_index", range(7))
def test_gad7_one_missing_item_is_invalid(missing_index):
    values = [3] * 7
    values[missing_index] = None
    code = f"gad7_{missing_index + 1}"
    assert score("GAD-7", 1, gad7(*values)) == Score(
        total=None,
        band=None,
        flags=(),
        prorated=False,
        valid=False,
        invalid_reason=f"unanswered scored items ({code}); GAD-7 is not prorated",
    )


def test_gad7_none_value_is_invalid():
    answers = gad7(1, 1, 1, 1, 1, 1, 1) | {"gad7_4": None}
    assert score("GAD-7", 1, answers).valid is False


# --- NEURO-SX ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("highest", "grade"),
    [(0, 0), (1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2), (7, 3), (8, 3), (9, 3), (10, 3)],
)
def test_grade_symptoms_boundaries(highest, grade):
    assert grade_symptoms(highest) == grade


@pytest.mark.parametrize(
    ("values", "grade"),
    [
        ((0, 0, 0, 0, 0, 0), 0),
        ((0, 0, 0, 0, 0, 1), 1),
        ((3, 3, 3, 3, 3, 3), 1),
        ((0, 4, 0, 0, 0, 0), 2),
        ((1, 2, 3, 6, 5, 4), 2),
        ((0, 0, 7, 0, 0, 0), 3),
        ((0, 0, 0, 0, 0, 10), 3),
        ((10, 10, 10, 10, 10, 10), 3),
    ],
)
def test_neuro_sx_grade_from_single_highest_severity(values, grade):
    assert score("NEURO-SX", 1, symptoms(*values)) == Score(
        total=None, band=None, flags=(), prorated=False, valid=True, grade=grade
    )


@pytest.mark.parametrize(
    ("values", "flags", "grade", "reason"),
    [
        # nothing answered >= 1: grade unknown, no flag
        ((0, 0, 0, 0, 0, M), (), None, "unanswered items (l_numbness)"),
        ((M, M, M, M, M, M), (), None, "unanswered items (" + ", ".join(SYMPTOM_CODES) + ")"),
        # a severity >= 1 answered: grade of the highest answered severity, a lower bound
        ((1, 0, 0, 0, 0, M), ("incomplete_with_symptoms",), 1, "unanswered items (l_numbness)"),
        ((M, 3, 0, 0, 0, 0), ("incomplete_with_symptoms",), 1, "unanswered items (r_pain)"),
        ((M, 4, 0, 0, 0, 0), ("incomplete_with_symptoms",), 2, "unanswered items (r_pain)"),
        (
            (M, 6, M, 0, 5, 0),
            ("incomplete_with_symptoms",),
            2,
            "unanswered items (r_pain, r_numbness)",
        ),
        ((M, 7, 0, 0, 0, 0), ("incomplete_with_symptoms",), 3, "unanswered items (r_pain)"),
        ((9, 0, 0, 0, 0, M), ("incomplete_with_symptoms",), 3, "unanswered items (l_numbness)"),
        (
            (M, M, M, M, M, 10),
            ("incomplete_with_symptoms",),
            3,
            "unanswered items (r_pain, r_pins_needles, r_numbness, l_pain, l_pins_needles)",
        ),
    ],
)
def test_neuro_sx_incomplete_is_invalid_with_a_lower_bound_grade(values, flags, grade, reason):
    assert score("NEURO-SX", 1, symptoms(*values)) == Score(
        total=None,
        band=None,
        flags=flags,
        prorated=False,
        valid=False,
        grade=grade,
        case=None,
        invalid_reason=reason,
    )


def test_neuro_sx_explicit_none_is_unanswered():
    answers = symptoms(9, 0, 0, 0, 0, 0) | {"l_numbness": None}

    assert score("NEURO-SX", 1, answers) == Score(
        total=None,
        band=None,
        flags=("incomplete_with_symptoms",),
        prorated=False,
        valid=False,
        grade=3,
        invalid_reason="unanswered items (l_numbness)",
    )


# --- BPNS ----------------------------------------------------------------------------------------

NONE = (0, 0, 0, 0, 0, 0)
SX = ("incomplete_with_symptoms",)
SIGNS = "vibration_r, vibration_l, reflex_r, reflex_l"


@pytest.mark.parametrize(
    ("answers", "grade", "case", "flags"),
    [
        # symptoms only
        (
            bpns((5, 0, 0, 0, 0, 0), 15, 15, "normal", "normal"),
            2,
            False,
            ("symptoms_without_signs",),
        ),
        # signs only (both kinds)
        (bpns(NONE, 5, 5, "absent", "absent"), 0, False, ("signs_without_symptoms",)),
        # neither
        (bpns(NONE, 20, 20, "normal", "normal"), 0, False, ()),
        # one-sided vibration loss
        (
            bpns((3, 0, 0, 0, 0, 0), 5, 11, "normal", "normal"),
            1,
            False,
            ("symptoms_without_signs",),
        ),
        (
            bpns((3, 0, 0, 0, 0, 0), 11, 0, "normal", "normal"),
            1,
            False,
            ("symptoms_without_signs",),
        ),
        # one-sided absent reflex
        (
            bpns((0, 0, 0, 0, 0, 7), 20, 20, "absent", "normal"),
            3,
            False,
            ("symptoms_without_signs",),
        ),
        (
            bpns((0, 0, 0, 0, 0, 7), 20, 20, "hypoactive", "absent"),
            3,
            False,
            ("symptoms_without_signs",),
        ),
        # vibration exactly 10 both sides is reduced
        (bpns((0, 0, 0, 1, 0, 0), 10, 10, "normal", "normal"), 1, True, ()),
        # vibration 10 and 11: not bilateral
        (
            bpns((0, 0, 0, 1, 0, 0), 10, 11, "normal", "normal"),
            1,
            False,
            ("symptoms_without_signs",),
        ),
        (
            bpns((0, 0, 0, 1, 0, 0), 11, 11, "normal", "normal"),
            1,
            False,
            ("symptoms_without_signs",),
        ),
        # not felt (0 s) on both sides
        (bpns((0, 0, 0, 0, 4, 0), 0, 0, "normal", "normal"), 2, True, ()),
        # both reflexes absent, vibration normal
        (bpns((0, 9, 0, 0, 0, 0), 30, 30, "absent", "absent"), 3, True, ()),
        # both reflexes hypoactive is not absent
        (
            bpns((0, 9, 0, 0, 0, 0), 30, 30, "hypoactive", "hypoactive"),
            3,
            False,
            ("symptoms_without_signs",),
        ),
        # both signs
        (bpns((6, 6, 6, 6, 6, 6), 3, 4, "absent", "absent"), 2, True, ()),
    ],
)
def test_bpns_case_definition(answers, grade, case, flags):
    assert score("BPNS", 1, answers) == Score(
        total=None, band=None, flags=flags, prorated=False, valid=True, grade=grade, case=case
    )


@pytest.mark.parametrize(
    ("answers", "flags", "grade", "case", "reason"),
    [
        # no answered symptom >= 1: grade and case unknown, even with bilateral signs
        (bpns((0, 0, 0, 0, 0, M), 5, 5, "absent", "absent"), (), None, None, "l_numbness"),
        (bpns(NONE, 5, 5, "absent", None), (), None, None, "reflex_l"),
        # symptoms and both vibrations answered <= 10: certainly a case
        (bpns((4, 0, 0, 0, 0, 0), 5, 5, "absent", None), SX, 2, True, "reflex_l"),
        (bpns((1, 0, 0, 0, 0, M), 10, 10, "normal", "normal"), SX, 1, True, "l_numbness"),
        (bpns((1, 0, 0, 0, 0, 0), 10, 10, None, None), SX, 1, True, "reflex_r, reflex_l"),
        # vibration 11 on one side, reflexes not both absent: not certainly a case -> None
        (bpns((1, 0, 0, 0, 0, M), 10, 11, "normal", "normal"), SX, 1, None, "l_numbness"),
        (bpns((1, 0, 0, 0, 0, 0), 10, 11, "absent", None), SX, 1, None, "reflex_l"),
        # one vibration unanswered: not bilateral yet -> None; both reflexes absent -> True
        (bpns((7, 0, 0, 0, 0, 0), 5, None, "normal", "normal"), SX, 3, None, "vibration_l"),
        (bpns((7, 0, 0, 0, 0, 0), 5, None, "absent", "absent"), SX, 3, True, "vibration_l"),
        (bpns((7, 0, 0, 0, 0, 0), 5, None, "hypoactive", "absent"), SX, 3, None, "vibration_l"),
        # no sign answered: never False for an incomplete form
        (bpns((0, 0, 6, 0, 0, 0), None, None, None, None), SX, 2, None, SIGNS),
        (bpns((0, 0, 6, 0, 0, 0), 30, 30, "normal", None), SX, 2, None, "reflex_l"),
        # symptoms incomplete, signs complete and normal: still None, not False
        (bpns((M, 0, 0, 0, 0, 0), 30, 30, "normal", "normal"), (), None, None, "r_pain"),
    ],
)
def test_bpns_incomplete_grade_is_a_lower_bound_and_case_true_or_unknown(
    answers, flags, grade, case, reason
):
    assert score("BPNS", 1, answers) == Score(
        total=None,
        band=None,
        flags=flags,
        prorated=False,
        valid=False,
        grade=grade,
        case=case,
        invalid_reason=f"unanswered items ({reason})",
    )


# --- errors and helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "answers"),
    [
        ("PHQ-9", phq9(True, 0, 0, 0, 0, 0, 0, 0, 0)),
        ("PHQ-9", phq9(4, 0, 0, 0, 0, 0, 0, 0, 0)),
        ("PHQ-9", phq9(0, 0, 0, 0, 0, 0, 0, 0, -1)),
        ("PHQ-9", phq9(0, 0, 0, 0, 0, 0, 0, 0, "1")),
        ("PHQ-9", phq9(1.0, 0, 0, 0, 0, 0, 0, 0, 0)),
        ("GAD-7", gad7(0, 0, 0, 0, 0, 0, 4)),
        ("NEURO-SX", symptoms(11, 0, 0, 0, 0, 0)),
        ("BPNS", bpns(NONE, 61, 0, "absent", "absent")),
        ("BPNS", bpns(NONE, 5, 5, "Absent", "absent")),
    ],
)
def test_score_refuses_unvalidated_values(code, answers):
    with pytest.raises(ScoringError):
        score(code, 1, answers)


def test_score_refuses_non_mapping_answers():
    with pytest.raises(ScoringError):
        score("PHQ-9", 1, [0] * 9)


@pytest.mark.parametrize(("code", "version"), [("PHQ-9", 2), ("PHQ-8", 1), ("phq-9", 1)])
def test_score_unknown_scorer_raises(code, version):
    with pytest.raises(UnknownScoringError):
        score(code, version, {})


def test_score_as_dict_is_json_ready():
    result = score("PHQ-9", 1, phq9(M, 3, 3, 3, 2, 2, 0, 0, 1))
    assert result.as_dict() == {
        "total": 16,
        "band": "moderately_severe",
        "flags": ["item9_positive"],
        "prorated": True,
        "valid": True,
        "grade": None,
        "case": None,
        "invalid_reason": None,
    }


@pytest.mark.parametrize(
    ("paper", "expected"),
    [
        ("00", 0),
        ("11", 0),
        (11, 0),
        ("0", 0),
        (0, 0),
        ("1", 1),
        ("01", 1),
        (" 7 ", 7),
        ("10", 10),
        (10, 10),
    ],
)
def test_normalise_bpns_paper_value_maps_00_and_11_to_zero(paper, expected):
    assert normalise_bpns_paper_value(paper) == expected


@pytest.mark.parametrize("paper", ["12", 12, "-1", -1, "", "x", "1.5", 1.5, None, True, "010", "٣"])
def test_normalise_bpns_paper_value_refuses_other_codes(paper):
    with pytest.raises(ValueError):
        normalise_bpns_paper_value(paper)
