"""The synthetic_cohort command: rows in the database, and the same table as the pure path."""

import csv
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from notifications.exports.cohort import CohortSettings, generate_cohort, history_of
from notifications.exports.survival import TABLE_COLUMNS, counting_process_rows
from screening.models import CmaxResult, Response, Subject
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def test_command_creates_the_cohort_and_exports_the_table(tmp_path, capsys):
    call_command("synthetic_cohort", subjects=25, out=str(tmp_path), site="syn")
    out = capsys.readouterr().out
    assert "SYNTHETIC cohort: 25 subjects" in out
    assert Subject.objects.filter(site__code="syn").count() == 25
    assert Subject.objects.get(study_id="SYN-0001").site.name == "SYNTHETIC cohort"
    assert Response.objects.filter(subject__site__code="syn").exists()
    assert CmaxResult.objects.filter(subject__site__code="syn").exists()
    with open(tmp_path / "time_to_event.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == TABLE_COLUMNS
    # The database path gives the pure path's table (same start, stop, event and exposure).
    expected = []
    for subject in generate_cohort(CohortSettings(subjects=25)):
        expected += counting_process_rows(history_of(subject), endpoint="phq9")
    ids = dict(Subject.objects.filter(site__code="syn").values_list("id", "study_id"))
    got = [
        (r["study_id"], float(r["start"]), float(r["stop"]), r["event"], r["cmax_above_ceiling"])
        for r in table
    ]
    assert got == [
        (r["study_id"], r["start"], r["stop"], str(r["event"]), str(r["cmax_above_ceiling"]))
        for r in expected
    ]
    assert {r["subject_id"] for r in table} <= {str(pk) for pk in ids}
    with pytest.raises(CommandError):
        call_command("synthetic_cohort", subjects=5, out=str(tmp_path), site="syn")


@pytest.mark.slow
def test_fit_script_prints_hazard_ratios_and_writes_the_png(tmp_path):
    from notifications.exports.cohort import generate_cohort as generate

    rows = []
    for subject in generate(CohortSettings(subjects=120)):
        rows += counting_process_rows(history_of(subject), endpoint="phq9")
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TABLE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    result = subprocess.run(
        [sys.executable, "scripts/fit_cox.py", str(path), "--plot", str(tmp_path / "km.png")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "cmax_above_ceiling" in result.stdout and "95% CI" in result.stdout
    assert (tmp_path / "km.png").read_bytes()[:4] == b"\x89PNG"
