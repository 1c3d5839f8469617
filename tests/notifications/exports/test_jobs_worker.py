"""Export jobs run by a real Celery worker: the caller polls progress, then downloads."""

import csv
import io
import time

import pytest
import yaml

from notifications.exports import services
from notifications.models import ExportJob
from tests.factories import ResponseFactory, SiteFactory, SubjectFactory, UserFactory, staff_client


@pytest.mark.worker
def test_a_queued_job_is_run_by_the_worker_and_downloads(celery_worker):
    site = SiteFactory(code="w")
    user = UserFactory(site=site)
    subject = SubjectFactory(site=site)
    for _ in range(30):
        ResponseFactory(subject=subject)
    client = staff_client(user)
    response = client.post("/api/v1/exports/jobs/", {"dataset": "responses"}, format="json")
    assert response.status_code == 202
    url = response["Location"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(url).json()
        assert 0 <= job["progress"] <= 100
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.3)
    assert (job["status"], job["progress"], job["rows_written"]) == ("done", 100, 30), (
        celery_worker.log()[-3000:]
    )
    download = client.get(job["files"][0]["url"])
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert len(rows) == 30


@pytest.mark.django_db
def test_the_sweep_resends_queued_and_stale_jobs(monkeypatch):
    from django.utils import timezone

    sent = []
    monkeypatch.setattr(services, "send_export_task", sent.append)
    user = UserFactory()
    old = timezone.now() - timezone.timedelta(minutes=2)
    queued = ExportJob.objects.create(requested_by=user, dataset="alerts")
    ExportJob.objects.filter(pk=queued.pk).update(created_at=old)
    fresh = ExportJob.objects.create(requested_by=user, dataset="alerts")
    stale = ExportJob.objects.create(
        requested_by=user,
        dataset="alerts",
        status="running",
        started_at=timezone.now() - services.STALE_AFTER - timezone.timedelta(seconds=1),
    )
    ExportJob.objects.create(
        requested_by=user, dataset="alerts", status="running", started_at=timezone.now()
    )
    assert services.sweep_export_jobs() == 2
    assert sorted(sent) == sorted([str(queued.pk), str(stale.pk)])
    assert str(fresh.pk) not in sent
    # A stale job is claimed again; one running normally is not.
    assert services.claim_job(str(stale.pk)) is not None
    assert services.claim_job(str(stale.pk)) is None


def test_the_schema_documents_the_export_endpoints(api_client, db):
    paths = yaml.safe_load(api_client.get("/api/v1/schema/").content)["paths"]
    for path in [
        "/api/v1/exports/",
        "/api/v1/exports/{dataset}/",
        "/api/v1/exports/dictionary/",
        "/api/v1/exports/jobs/",
        "/api/v1/exports/jobs/{job_id}/",
        "/api/v1/exports/jobs/{job_id}/files/{name}",
        "/api/v1/exports/fhir/{resource_type}.ndjson",
        "/api/v1/fhir/Observation",
        "/api/v1/fhir/export",
        "/api/v1/fhir/export-status/{job_id}",
        "/api/v1/reports/missed-assessments/",
    ]:
        assert path in paths, path
    assert (
        "application/fhir+json"
        in paths["/api/v1/fhir/Observation"]["post"]["requestBody"]["content"]
    )
