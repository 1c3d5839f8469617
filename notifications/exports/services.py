"""Exports as use-cases: stream a dataset (audited), queue and run a long export job."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from screening.audit import record_audit
from screening.models import Site
from screening.selectors import visible_sites

from ..models import ExportJob
from .csvstream import csv_chunks
from .datasets import DATASETS, ExportParameterError

logger = logging.getLogger(__name__)

RUN_EXPORT_TASK = "notifications.run_export_job"
# Rows between two progress updates of a job.
PROGRESS_EVERY = 5000
# A running job not finished after this (its worker died) is run again by the sweep.
STALE_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
MAX_ATTEMPTS = 3


def export_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def clean_parameters(user, dataset: str, raw: dict) -> dict:
    """Return the dataset's parameters from a request, or raise ``ExportParameterError``."""
    if dataset not in DATASETS and dataset != "fhir":
        raise ExportParameterError({"dataset": [f"One of {', '.join([*DATASETS, 'fhir'])}."]})
    allowed = DATASETS[dataset].parameters if dataset in DATASETS else ("site", "types")
    params = {name: raw[name] for name in allowed if raw.get(name) not in (None, "")}
    site = params.get("site")
    if site is not None:
        if not isinstance(site, str) or not visible_sites(user).filter(code=site).exists():
            # Another site's code answers like an unknown one.
            raise ExportParameterError({"site": ["No such site."]})
    for name, value in params.items():
        if name != "types" and not isinstance(value, str):
            raise ExportParameterError({name: ["A string."]})
    return params


def audit_export(*, user, what: str, params: dict, rows: int, complete: bool, fmt: str) -> None:
    """Record who exported what, when and how many rows (an audit event without a subject)."""
    site = Site.objects.filter(code=params.get("site")).first() if params.get("site") else None
    record_audit(
        action="export",
        obj=site or user,
        actor=user,
        changes={
            "dataset": what,
            "format": fmt,
            "parameters": params,
            "rows": rows,
            "complete": complete,
        },
    )


def stream_dataset_csv(user, dataset: str, params: dict) -> Iterator[str]:
    """Yield the dataset as CSV; when the stream ends (or the client leaves), audit the export."""
    spec = DATASETS[dataset]
    header = spec.header(params)
    rows = spec.iter_rows(user, params)  # raises ExportParameterError before streaming starts
    counter = _Counter(rows)
    complete = False
    try:
        yield from csv_chunks(header, counter)
        complete = True
    finally:
        audit_export(
            user=user,
            what=dataset,
            params=params,
            rows=counter.count,
            complete=complete,
            fmt="csv",
        )


def stream_ndjson(user, what: str, resources: Iterable[dict], params: dict) -> Iterator[str]:
    """Yield FHIR resources as NDJSON (one per line), audited when the stream ends."""
    count = 0
    complete = False
    buffer: list[str] = []
    try:
        for resource in resources:
            buffer.append(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
            if len(buffer) >= 500:
                yield "".join(buffer)
                buffer = []
        if buffer:
            yield "".join(buffer)
        complete = True
    finally:
        audit_export(
            user=user, what=what, params=params, rows=count, complete=complete, fmt="ndjson"
        )


class _Counter:
    """Wrap an iterator and count what passes through."""

    def __init__(self, iterable):
        self._iterator = iter(iterable)
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._iterator)
        self.count += 1
        return item


# --- jobs ---------------------------------------------------------------------------------------


def queue_export(*, user, dataset: str, fmt: str, params: dict) -> ExportJob:
    """Create a queued job; send its task after commit (the sweep re-sends it if need be)."""
    job = ExportJob.objects.create(
        requested_by=user, dataset=dataset, format=fmt, parameters=params
    )
    job_id = str(job.pk)
    transaction.on_commit(lambda: send_export_task(job_id))
    return job


def send_export_task(job_id: str) -> None:
    from config.celery_app import app

    try:
        app.send_task(RUN_EXPORT_TASK, args=[job_id])
    except Exception as exc:  # broker down: the job stays queued and the sweep sends it later
        logger.warning(
            "export task not sent; the sweep will retry",
            extra={"job_id": job_id, "error": type(exc).__name__},
        )


def sweep_export_jobs(*, now=None) -> int:
    """Re-send the task of jobs queued for a while, or running past their lease; return how many."""
    now = now or timezone.now()
    queued = ExportJob.objects.filter(
        status=ExportJob.Status.QUEUED, created_at__lte=now - timedelta(seconds=30)
    )
    stale = ExportJob.objects.filter(
        status=ExportJob.Status.RUNNING, started_at__lte=now - STALE_AFTER
    )
    ids = [str(pk) for pk in queued.values_list("id", flat=True)[:50]]
    ids += [str(pk) for pk in stale.values_list("id", flat=True)[:50]]
    for job_id in ids:
        send_export_task(job_id)
    return len(ids)


def claim_job(job_id: str, *, now=None) -> ExportJob | None:
    """Mark a queued (or stale running) job as running; None when another worker has it."""
    now = now or timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
        if job is None:
            return None
        runnable = job.status == ExportJob.Status.QUEUED or (
            job.status == ExportJob.Status.RUNNING
            and job.started_at is not None
            and job.started_at <= now - STALE_AFTER
        )
        if not runnable:
            return None
        if job.attempts >= MAX_ATTEMPTS:
            job.status = ExportJob.Status.FAILED
            job.error = f"gave up after {job.attempts} attempts"
            job.finished_at = now
            job.save(update_fields=["status", "error", "finished_at"])
            return None
        job.status = ExportJob.Status.RUNNING
        job.started_at = now
        job.attempts += 1
        job.rows_written = 0
        job.save(update_fields=["status", "started_at", "attempts", "rows_written"])
        return job


def run_export_job(job_id: str) -> None:
    """Write the job's files under VAR_DIR/exports/<id>/, updating its progress as it goes."""
    job = claim_job(job_id)
    if job is None:
        return
    user = job.requested_by
    folder = export_dir() / str(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if job.dataset == "fhir":
            files, total = _write_fhir_files(job, user, folder)
        else:
            files, total = _write_csv_file(job, user, folder)
    except Exception as exc:
        logger.exception("export job failed", extra={"job_id": str(job.pk)})
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now()
        )
        return
    with transaction.atomic():
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.DONE,
            files=files,
            rows_written=total,
            finished_at=timezone.now(),
        )
        audit_export(
            user=user,
            what=job.dataset,
            params={**job.parameters, "job": str(job.pk)},
            rows=total,
            complete=True,
            fmt=job.format,
        )


def _progress(job: ExportJob, written: int) -> None:
    if written % PROGRESS_EVERY == 0:
        ExportJob.objects.filter(pk=job.pk).update(rows_written=written)


def _write_csv_file(job: ExportJob, user, folder: Path) -> tuple[list[dict], int]:
    spec = DATASETS[job.dataset]
    params = job.parameters
    ExportJob.objects.filter(pk=job.pk).update(rows_total=spec.count(user, params))
    name = f"{job.dataset}.csv"
    written = 0
    by_subject = spec.progress_unit == "subjects"

    def subjects_done(done: int) -> None:
        ExportJob.objects.filter(pk=job.pk).update(rows_written=done)

    def counted():
        nonlocal written
        for row in spec.iter_rows(user, params, progress=subjects_done if by_subject else None):
            yield row
            written += 1
            if not by_subject:
                _progress(job, written)

    with open(folder / name, "w", encoding="utf-8", newline="") as handle:
        for chunk in csv_chunks(spec.header(params), counted()):
            handle.write(chunk)
    return [{"name": name, "type": job.dataset, "rows": written}], written


def _write_fhir_files(job: ExportJob, user, folder: Path) -> tuple[list[dict], int]:
    from .fhir_export import RESOURCE_TYPES, count_resources, iter_resources

    types = job.parameters.get("types") or list(RESOURCE_TYPES)
    params = {k: v for k, v in job.parameters.items() if k != "types"}
    ExportJob.objects.filter(pk=job.pk).update(
        rows_total=sum(count_resources(user, t, params) for t in types)
    )
    files = []
    written = 0
    for resource_type in types:
        name = f"{resource_type}.ndjson"
        count = 0
        with open(folder / name, "w", encoding="utf-8") as handle:
            for resource in iter_resources(user, resource_type, params):
                handle.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
                count += 1
                written += 1
                _progress(job, written)
        files.append({"name": name, "type": resource_type, "rows": count})
    return files, written
