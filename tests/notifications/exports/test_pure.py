"""Pure parts of the research export: CSV streaming, dictionary, counting-process table, runs."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from notifications.exports.csvstream import csv_chunks
from notifications.exports.dictionary import Column, dictionary_rows, item_columns
from notifications.exports.missed import missed_runs
from notifications.exports.survival import (
    TABLE_COLUMNS,
    Outcome,
    RegimenPoint,
    SubjectHistory,
    counting_process_rows,
    event_times,
)
from questionnaires.definitions import load_definitions
from screening.cmax import CmaxSample

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_csv_chunks_group_rows_and_guard_formulas():
    chunks = list(csv_chunks(["a", "b"], ([n, "x"] for n in range(5)), rows_per_chunk=2))
    assert len(chunks) == 3  # header + 1 row, 2 rows, 2 rows
    text = "".join(chunks)
    assert text.splitlines()[0] == "a,b"
    assert text.count("\r\n") == 6
    guarded = "".join(csv_chunks(["v"], [["=HYPERLINK()"], ["-3"], [None], [True], [-3]]))
    assert guarded.split("\r\n")[1:6] == ["'=HYPERLINK()", "'-3", '""', "true", "-3"]


def test_item_columns_come_from_every_definition():
    columns = {c.name: c for c in item_columns(load_definitions())}
    assert columns["phq9_9"].allowed == (
        "0=Not at all",
        "1=Several days",
        "2=More than half the days",
        "3=Nearly every day",
    )
    assert "LOINC 44260-8" in columns["phq9_9"].meaning
    assert columns["vibration_r"].allowed == ("0-60",)
    # Shared by NEURO-SX and BPNS: one column naming both.
    assert "NEURO-SX v1" in columns["r_pain"].meaning and "BPNS v1" in columns["r_pain"].meaning
    assert columns["reflex_l"].type == "string"
    assert "recorded, not scored" in columns["phq9_10"].meaning


def test_dictionary_rows_and_unknown_type_refused():
    rows = dictionary_rows({"d": [Column("x", "integer", "An x.", unit="mg", allowed=("1", "2"))]})
    assert rows == [
        {
            "dataset": "d",
            "column": "x",
            "type": "integer",
            "unit": "mg",
            "allowed_values": "1 | 2",
            "meaning": "An x.",
        }
    ]
    with pytest.raises(ValueError):
        Column("x", "float", "no such type")


def phq9(at, total, valid=True):
    return Outcome(completed_at=at, instrument="PHQ-9", valid=valid, total=total)


def sample(at, value, hours="2"):
    return CmaxSample(
        id=str(at), value_ug_per_ml=Decimal(value), sampled_at=at, hours_post_dose=Decimal(hours)
    )


REGIMEN = (
    RegimenPoint(
        effective_from=T0,
        drug="cycloserine",
        dose_mg_per_day=750,
        pyridoxine_mg_per_day=150,
        isoniazid=False,
        ethionamide=True,
    ),
)


def history(**kwargs):
    base = {
        "subject_id": "s1",
        "site": "a",
        "study_id": "S-1",
        "origin": T0,
        "age": 40,
        "sex": "female",
        "hiv_positive": True,
        "renal_impairment": None,
        "regimen": REGIMEN,
    }
    return SubjectHistory(**{**base, **kwargs})


@pytest.mark.parametrize(("total", "event"), [(9, 0), (10, 1)])
def test_phq9_event_at_the_threshold(total, event):
    rows = counting_process_rows(
        history(responses=(phq9(day(0.5), 3), phq9(day(14.5), total), phq9(day(28.5), 2))),
        endpoint="phq9",
    )
    assert [(r["start"], r["stop"], r["event"]) for r in rows] == [
        (0.0, 14.5 if event else 28.5, event)
    ]
    assert list(rows[0]) == TABLE_COLUMNS
    assert (rows[0]["dose_mg_per_day"], rows[0]["ethionamide"], rows[0]["hiv_positive"]) == (
        750,
        1,
        1,
    )
    assert rows[0]["renal_impairment"] is None


def test_invalid_form_is_no_event():
    rows = counting_process_rows(
        history(responses=(phq9(day(1), 15, valid=False), phq9(day(2), 0))), endpoint="phq9"
    )
    assert rows[-1]["event"] == 0


@pytest.mark.parametrize(("value", "above"), [("35", 0), ("35.001", 1)])
def test_cmax_above_the_ceiling_is_time_varying(value, above):
    rows = counting_process_rows(
        history(
            cmax_samples=(sample(day(7), value),),
            responses=(phq9(day(0.5), 0), phq9(day(20), 12)),
        ),
        endpoint="phq9",
    )
    assert [(r["start"], r["stop"], r["cmax_known"], r["cmax_above_ceiling"]) for r in rows] == [
        (0.0, 7.0, 0, 0),
        (7.0, 20.0, 1, above),
    ]
    assert rows[1]["cmax_ug_per_ml"] == Decimal(value)
    assert [r["event"] for r in rows] == [0, 1]


def test_cmax_stops_being_current_after_the_recency_window():
    rows = counting_process_rows(
        history(cmax_samples=(sample(day(7), "40"),), responses=(phq9(day(60), 0),)),
        endpoint="phq9",
    )
    assert [(r["start"], r["stop"], r["cmax_above_ceiling"]) for r in rows] == [
        (0.0, 7.0, 0),
        (7.0, 35.0, 1),
        (35.0, 60.0, 0),
    ]


def test_dose_change_ends_the_current_cmax():
    change = RegimenPoint(
        effective_from=day(10),
        drug="cycloserine",
        dose_mg_per_day=500,
        pyridoxine_mg_per_day=150,
        isoniazid=False,
        ethionamide=True,
    )
    rows = counting_process_rows(
        history(
            regimen=(*REGIMEN, change),
            cmax_samples=(sample(day(7), "40"),),
            responses=(phq9(day(20), 0),),
        ),
        endpoint="phq9",
    )
    assert [
        (r["start"], r["stop"], r["cmax_above_ceiling"], r["dose_mg_per_day"]) for r in rows
    ] == [
        (0.0, 7.0, 0, 750),
        (7.0, 10.0, 1, 750),
        (10.0, 20.0, 0, 500),
    ]


def test_follow_up_ends_at_withdrawal_and_later_events_do_not_count():
    rows = counting_process_rows(
        history(withdrawn_at=day(10), responses=(phq9(day(5), 0), phq9(day(12), 20))),
        endpoint="phq9",
    )
    assert [(r["stop"], r["event"]) for r in rows] == [(10.0, 0)]


def test_prevalent_event_and_no_follow_up_give_no_rows():
    assert counting_process_rows(history(responses=(phq9(day(-1), 12),)), endpoint="phq9") == []
    assert counting_process_rows(history(), endpoint="any") == []
    with pytest.raises(ValueError):
        counting_process_rows(history(), endpoint="nope")


def test_event_definitions():
    responses = (
        Outcome(completed_at=day(3), instrument="NEURO-SX", valid=True, grade=1),
        Outcome(completed_at=day(4), instrument="NEURO-SX", valid=True, grade=2),
        Outcome(completed_at=day(5), instrument="BPNS", valid=True, grade=1, case=True),
        Outcome(completed_at=day(6), instrument="GAD-7", valid=True, total=10),
        Outcome(completed_at=day(2), instrument="GAD-7", valid=True, total=9),
    )
    times = event_times(history(responses=responses, discontinuation_alerts=(day(1.5),)))
    assert times == {
        "phq9": None,
        "gad7": day(6),
        "neuropathy": day(4),
        "bpns_case": day(5),
        "discontinuation": day(1.5),
        "any": day(1.5),
    }


@pytest.mark.parametrize(
    ("statuses", "runs"),
    [
        ([], (0, 0)),
        (["missed"], (1, 1)),
        (["missed", "missed", "completed"], (2, 0)),
        (["missed", "cancelled", "missed", "open"], (2, 2)),
        (["missed", "completed", "missed"], (1, 1)),
    ],
)
def test_missed_runs(statuses, runs):
    assert missed_runs(statuses) == runs
