"""Create a SYNTHETIC cohort with a known hazard ratio and export its time-to-event table.

    manage.py synthetic_cohort --subjects 300 --hazard-ratio 2 --out var/synthetic

The rows go into a site of their own (``--site``, default ``synthetic``, named "SYNTHETIC
cohort"); no real person is described. They are written directly (bulk inserts, no evaluation:
synthetic subjects never page a clinician). The table (endpoint ``phq9``) is then exported with
the same code as ``GET /api/v1/exports/time-to-event/`` to ``<out>/time_to_event.csv``; fit it
with ``scripts/fit_cox.py``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from notifications.exports.cohort import CohortSettings, generate_cohort
from notifications.exports.csvstream import csv_chunks
from notifications.exports.datasets import DATASETS
from questionnaires.scoring import score_definition
from questionnaires.services import get_current_version
from screening.cmax import convert_to_ug_per_ml
from screening.models import CmaxResult, RegimenChange, Response, Site, Subject


class Command(BaseCommand):
    help = "Create a synthetic cohort with a known hazard ratio and export its Cox table."

    def add_arguments(self, parser):
        parser.add_argument("--subjects", type=int, default=300)
        parser.add_argument("--seed", type=int, default=CohortSettings.seed)
        parser.add_argument("--hazard-ratio", type=float, default=CohortSettings.hazard_ratio)
        parser.add_argument("--site", default="synthetic", help="Code of the site to create.")
        parser.add_argument(
            "--out", default=None, help="Folder of the table (default VAR_DIR/synthetic)."
        )

    def handle(self, *args, **options):
        if options["subjects"] < 1:
            raise CommandError("--subjects must be at least 1")
        if options["hazard_ratio"] <= 0:
            raise CommandError("--hazard-ratio must be positive")
        code = options["site"]
        if Site.objects.filter(code=code).exists():
            raise CommandError(f"site {code!r} exists already: choose another --site")
        cohort = generate_cohort(
            CohortSettings(
                subjects=options["subjects"],
                seed=options["seed"],
                hazard_ratio=options["hazard_ratio"],
            )
        )
        phq9 = get_current_version("PHQ-9")
        if phq9 is None:
            raise CommandError("PHQ-9 is not loaded: run manage.py migrate first")
        with transaction.atomic():
            site = Site.objects.create(code=code, name="SYNTHETIC cohort", timezone="UTC")
            subjects, changes, results, responses = [], [], [], []
            for synthetic in cohort:
                subject = Subject(
                    id=uuid.uuid4(),
                    site=site,
                    study_id=synthetic.study_id,
                    timezone="UTC",
                    treatment_start=synthetic.treatment_start,
                    sex=synthetic.sex,
                    year_of_birth=synthetic.year_of_birth,
                    hiv_positive=synthetic.hiv_positive,
                    renal_impairment=synthetic.renal_impairment,
                    status=Subject.Status.WITHDRAWN
                    if synthetic.withdrawn_at
                    else Subject.Status.ACTIVE,
                    withdrawn_at=synthetic.withdrawn_at,
                )
                subjects.append(subject)
                changes.append(
                    RegimenChange(
                        subject=subject,
                        effective_from=_midnight(synthetic.treatment_start),
                        dose_mg_per_day=synthetic.dose_mg_per_day,
                        pyridoxine_mg_per_day=synthetic.pyridoxine_mg_per_day,
                        isoniazid=synthetic.isoniazid,
                        ethionamide=synthetic.ethionamide,
                    )
                )
                for sampled_at, hours, value, reference in synthetic.cmax:
                    results.append(
                        CmaxResult(
                            subject=subject,
                            value=value,
                            unit=CmaxResult.Unit.UG_PER_ML,
                            value_ug_per_ml=convert_to_ug_per_ml(value, "ug/mL"),
                            sampled_at=sampled_at,
                            hours_post_dose=hours,
                            dose_mg=synthetic.dose_mg_per_day // 2,
                            lab_reference=reference,
                        )
                    )
                for completed_at, answers in synthetic.phq9:
                    score = score_definition(phq9.definition, answers).as_dict()
                    responses.append(
                        Response(
                            subject=subject,
                            instrument_version=phq9,
                            instrument_code="PHQ-9",
                            source=Response.Source.INTERVIEW,
                            answers=answers,
                            score=score,
                            valid=score["valid"],
                            completed_at=completed_at,
                            received_at=completed_at,
                        )
                    )
            Subject.objects.bulk_create(subjects, batch_size=1000)
            RegimenChange.objects.bulk_create(changes, batch_size=1000)
            CmaxResult.objects.bulk_create(results, batch_size=2000)
            Response.objects.bulk_create(responses, batch_size=2000)
        out = Path(options["out"] or Path(settings.VAR_DIR) / "synthetic")
        out.mkdir(parents=True, exist_ok=True)
        path = out / "time_to_event.csv"
        admin = get_user_model()(is_staff=True, is_active=True)  # sees every site; not saved
        dataset = DATASETS["time-to-event"]
        params = {"site": code, "endpoint": "phq9"}
        rows = 0

        def counted():
            nonlocal rows
            for row in dataset.iter_rows(admin, params):
                rows += 1
                yield row

        with open(path, "w", encoding="utf-8", newline="") as handle:
            for chunk in csv_chunks(dataset.header(params), counted()):
                handle.write(chunk)
        exposed = sum(1 for s in cohort if s.exposed)
        events = sum(1 for s in cohort if s.event_at)
        self.stdout.write(
            f"SYNTHETIC cohort: {len(cohort)} subjects at site {code!r} ({exposed} with Cmax above "
            f"the ceiling, {events} events, built-in hazard ratio {options['hazard_ratio']}).\n"
            f"Time-to-event table: {path} ({rows} rows). Fit it with:\n"
            f"  .venv/bin/python scripts/fit_cox.py {path} --plot {out / 'kaplan_meier.png'}"
        )


def _midnight(day):
    from datetime import UTC, datetime, time

    return datetime.combine(day, time.min, tzinfo=UTC)
