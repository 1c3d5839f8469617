"""The export API: streamed CSV, dictionary, site isolation, audit, jobs, missed-data report."""

import csv
import io
import json

import pytest

from notifications.exports import services
from notifications.exports.datasets import DATASETS
from notifications.models import ExportJob
from screening.audit import record_audit
from screening.models import AuditEvent, Response
from tests.factories import (
    AssessmentFactory,
    ResponseFactory,
    SubjectFactory,
    phq9_answers,
    staff_client,
)

pytestmark = pytest.mark.django_db


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, getattr(response, "content", b"")[:500]
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def export_events():
    return AuditEvent.objects.filter(action="export").order_by("at")


def test_accept_text_csv_streams_responses_with_items_as_columns(world, admin_client_api):
    response = admin_client_api.get("/api/v1/exports/responses/", HTTP_ACCEPT="text/csv")
    assert response.streaming
    rows = read_csv(response)
    assert len(rows) == Response.objects.count() == 12
    phq9 = next(r for r in rows if r["instrument"] == "PHQ-9" and r["valid"] == "true")
    assert (phq9["total"], phq9["band"], phq9["phq9_9"], phq9["phq9_10"]) == (
        "12",
        "moderate",
        "1",
        "2",
    )
    assert "item9_positive" in phq9["flags"]
    assert (phq9["instrument_version"], phq9["language"], phq9["source"]) == ("1", "en", "paper")
    bpns = next(r for r in rows if r["instrument"] == "BPNS")
    assert (bpns["grade"], bpns["case"], bpns["reflex_l"]) == ("1", "true", "absent")
    invalid = next(r for r in rows if r["instrument"] == "PHQ-9" and r["valid"] == "false")
    assert invalid["total"] == "" and "unanswered" in invalid["invalid_reason"]


def test_site_staff_export_only_their_sites_subjects(world):
    for code in ("a", "b"):
        subject = world["subjects"][code]
        record_audit(action="update", obj=subject, subject=subject, changes={"x": 1})
    for name in DATASETS:
        rows = read_csv(world["client_a"].get(f"/api/v1/exports/{name}/"))
        assert rows, name
        assert {r["site"] for r in rows} == {"a"}, name
    # Another site's code answers as an unknown one.
    response = world["client_a"].get("/api/v1/exports/responses/?site=b")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"site": ["No such site."]}
    assert world["client_a"].get("/api/v1/exports/responses/?site=zz").json() == response.json()


def test_admin_exports_every_site_or_one(world, admin_client_api):
    rows = read_csv(admin_client_api.get("/api/v1/exports/cmax-results/"))
    assert {r["site"] for r in rows} == {"a", "b"}
    rows = read_csv(admin_client_api.get("/api/v1/exports/cmax-results/?site=b"))
    assert {r["site"] for r in rows} == {"b"}
    umol = next(r for r in rows if r["unit"] == "umol/L")
    assert umol["value_ug_per_ml"] == "30.627"  # 300 × 102.09 / 1000
    assert {r["occasion"] for r in rows} == {"1"}  # both samples follow the same dose
    assert sorted(r["is_occasion_cmax"] for r in rows) == ["false", "true"]


def test_every_export_is_audited_with_who_what_when_and_rows(world):
    before = export_events().count()
    rows = read_csv(world["client_a"].get("/api/v1/exports/alerts/?site=a"))
    event = export_events().last()
    assert export_events().count() == before + 1
    assert event.actor == world["staff_a"]
    assert event.changes == {
        "dataset": "alerts",
        "format": "csv",
        "parameters": {"site": "a"},
        "rows": len(rows) == 2 and 2,
        "complete": True,
    }
    assert event.at is not None


def test_an_abandoned_stream_is_audited_as_incomplete(world, admin_client_api):
    response = admin_client_api.get("/api/v1/exports/responses/")
    iterator = iter(response.streaming_content)
    next(iterator)
    # The client went away: the server closes the stream (the test client's own closing path).
    response._iterator.close()
    event = export_events().last()
    assert event.changes["complete"] is False


def test_unknown_dataset_and_bad_endpoint(world, admin_client_api):
    assert admin_client_api.get("/api/v1/exports/nope/").status_code == 404
    response = admin_client_api.get("/api/v1/exports/time-to-event/?endpoint=x")
    assert response.status_code == 400
    assert "endpoint" in response.json()["error"]["fields"]
    assert not export_events().exists()


def test_dictionary_describes_every_exported_column(world, admin_client_api):
    entries = admin_client_api.get("/api/v1/exports/dictionary/").json()
    described = {(e["dataset"], e["column"]) for e in entries}
    for name in DATASETS:
        header = next(
            csv.reader(
                io.StringIO(
                    b"".join(
                        admin_client_api.get(f"/api/v1/exports/{name}/").streaming_content
                    ).decode()
                )
            )
        )
        assert {(name, column) for column in header} <= described, name
    assert all(e["meaning"] for e in entries)
    endpoint = next(e for e in entries if e["column"] == "endpoint")
    assert "first valid PHQ-9 with total >= 10" in endpoint["meaning"]
    as_csv = admin_client_api.get("/api/v1/exports/dictionary/", HTTP_ACCEPT="text/csv")
    assert as_csv["Content-Type"].startswith("text/csv")
    assert (
        as_csv.content.decode().splitlines()[0] == "dataset,column,type,unit,allowed_values,meaning"
    )


def test_export_reads_in_constant_queries(world, admin_client_api, django_assert_max_num_queries):
    subject = world["subjects"]["a"]
    for _ in range(40):
        ResponseFactory(subject=subject)
    with django_assert_max_num_queries(8):
        rows = read_csv(admin_client_api.get("/api/v1/exports/responses/"))
    assert len(rows) == 52


def test_missed_report_per_site_and_instrument(world, admin_client_api):
    subject = world["subjects"]["b"]
    entry = subject.assessments.first().schedule_entry
    for status in ["missed", "completed", "missed", "missed", "cancelled"]:
        AssessmentFactory(subject=subject, schedule_entry=entry, status=status)
    report = admin_client_api.get("/api/v1/reports/missed-assessments/").json()
    by = {(r["site"], r["instrument"]): r for r in report["by_site_and_instrument"]}
    assert (by[("b", "PHQ-9")]["missed"], by[("b", "PHQ-9")]["completed"]) == (4, 1)
    assert by[("b", "PHQ-9")]["cancelled"] == 1
    assert by[("a", "PHQ-9")]["missed"] == 1
    flagged = report["subjects_with_consecutive_missed"]
    assert [(s["study_id"], s["longest_missed_run"]) for s in flagged] == [("B-1", 2)]
    # Site staff see their sites only.
    mine = world["client_a"].get("/api/v1/reports/missed-assessments/").json()
    assert {r["site"] for r in mine["by_site_and_instrument"]} == {"a"}
    assert mine["subjects_with_consecutive_missed"] == []
    event = export_events().last()
    assert (event.actor, event.changes["dataset"], event.changes["rows"]) == (
        world["staff_a"],
        "missed-assessments",
        1,
    )


def test_export_job_runs_and_its_file_downloads(world, django_capture_on_commit_callbacks):
    client = world["client_a"]
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/v1/exports/jobs/", {"dataset": "responses"}, format="json")
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["progress"], job["files"]) == ("queued", 0, [])
    services.run_export_job(job["id"])
    done = client.get(f"/api/v1/exports/jobs/{job['id']}/").json()
    assert (done["status"], done["progress"], done["rows_total"], done["rows_written"]) == (
        "done",
        100,
        6,
        6,
    )
    (file,) = done["files"]
    download = client.get(file["url"])
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert {r["site"] for r in rows} == {"a"} and len(rows) == 6
    event = export_events().last()
    assert event.changes["rows"] == 6 and event.changes["parameters"]["job"] == job["id"]
    # Another user's job is 404, like an unknown one.
    assert world["client_b"].get(f"/api/v1/exports/jobs/{job['id']}/").status_code == 404
    # A job already done is not run again.
    services.run_export_job(job["id"])
    assert ExportJob.objects.get(pk=job["id"]).attempts == 1


def test_export_job_refuses_bad_input(world):
    response = world["client_a"].post("/api/v1/exports/jobs/", {"dataset": "x"}, format="json")
    assert response.status_code == 400 and "dataset" in response.json()["error"]["fields"]
    response = world["client_a"].post(
        "/api/v1/exports/jobs/", {"dataset": "alerts", "site": "b"}, format="json"
    )
    assert response.status_code == 400 and not ExportJob.objects.exists()


def test_subject_tokens_cannot_export(world):
    from tests.factories import subject_client

    client, _ = subject_client(world["subjects"]["a"])
    assert client.get("/api/v1/exports/responses/").status_code in (401, 403)


@pytest.fixture
def client_b(world):
    return staff_client(world["staff_b"])


@pytest.fixture(autouse=True)
def _client_b(world, client_b):
    world["client_b"] = client_b


@pytest.mark.parametrize("subjects", [3, 30])
def test_time_to_event_export_reads_in_batches(
    world, admin_client_api, django_assert_max_num_queries, subjects
):
    """Histories are read four queries per batch of 200 subjects, whatever their number."""
    for n in range(subjects):
        subject = SubjectFactory(site=world["a"])
        ResponseFactory(subject=subject, answers=phq9_answers(10 if n % 2 else 3))
    with django_assert_max_num_queries(14):
        rows = read_csv(admin_client_api.get("/api/v1/exports/time-to-event/?endpoint=phq9"))
    assert len({r["subject_id"] for r in rows}) == subjects + 2
    assert sum(r["event"] == "1" for r in rows) == subjects // 2 + 2  # the world's PHQ-9 is 12


def test_a_time_to_event_job_counts_its_progress_in_subjects(
    world, django_capture_on_commit_callbacks
):
    client = world["client_a"]
    with django_capture_on_commit_callbacks(execute=False):
        job = client.post(
            "/api/v1/exports/jobs/", {"dataset": "time-to-event", "endpoint": "phq9"}, format="json"
        ).json()
    services.run_export_job(job["id"])
    done = client.get(f"/api/v1/exports/jobs/{job['id']}/").json()
    assert (done["status"], done["rows_total"], done["progress"]) == ("done", 1, 100)
    assert done["files"][0]["count"] == done["rows_written"] >= 1
    bad = client.post(
        "/api/v1/exports/jobs/", {"dataset": "time-to-event", "endpoint": "x"}, format="json"
    )
    assert bad.status_code == 400 and "endpoint" in bad.json()["error"]["fields"]


def test_alert_rows_carry_rules_times_and_resolution(world, admin_client_api):
    rows = read_csv(admin_client_api.get("/api/v1/exports/alerts/?site=a"))
    by_category = {r["category"]: r for r in rows}
    urgent, resolved = by_category["discontinuation"], by_category["dose_review"]
    assert (urgent["rules"], urgent["severity"], urgent["status"], urgent["revision"]) == (
        "D1",
        "urgent",
        "open",
        "0",
    )
    assert json.loads(urgent["reasons"])[0]["rule"] == "D1"
    assert (resolved["action_taken"], resolved["resolution_note"]) == (
        "dose_reduced",
        "Reduced to 500 mg.",
    )
    assert resolved["resolved_at"] and urgent["resolved_at"] == ""


def test_the_responses_export_shows_the_current_answers_and_the_amendments_applied(
    world, admin_client_api, admin_user
):
    from screening.services.amendments import amend_response

    response = Response.objects.filter(instrument_code="PHQ-9", valid=True).first()
    amend_response(
        response=response,
        changes={"phq9_1": 0},
        reason="Paper form re-read.",
        amended_by=admin_user,
    )
    rows = read_csv(admin_client_api.get("/api/v1/exports/responses/", HTTP_ACCEPT="text/csv"))
    amended = next(r for r in rows if r["response_id"] == str(response.pk))
    others = [r for r in rows if r["response_id"] != str(response.pk)]
    assert (amended["amendments"], amended["phq9_1"]) == ("1", "0")
    assert amended["amended_at"] != ""
    assert int(amended["total"]) == response.score["total"] - response.answers["phq9_1"]
    assert {(r["amendments"], r["amended_at"]) for r in others} == {("0", "")}
