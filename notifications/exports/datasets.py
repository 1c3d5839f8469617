"""The exportable datasets: their columns (for the dictionary) and their rows, streamed.

Every dataset reads with ``.iterator(chunk_size=...)`` (a server-side cursor on PostgreSQL) and
yields one list per row, so an export of any size holds only a chunk in memory. Rows are limited
to the subjects the user may see (admins: all sites; site staff: their sites' subjects), and
optionally to one site (``site``, a site code).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from questionnaires.models import InstrumentVersion
from screening.cmax import CmaxSample, group_occasions, hours_to_timedelta
from screening.evidence import current_amendment
from screening.models import (
    Amendment,
    Assessment,
    AuditEvent,
    CmaxResult,
    RegimenChange,
    Response,
    Subject,
)
from screening.selectors import is_admin
from screening.services.profiles import current_profile

from ..models import Alert
from .dictionary import Column, choices, item_columns
from .survival import (
    ENDPOINTS,
    TABLE_COLUMNS,
    Outcome,
    RegimenPoint,
    SubjectHistory,
    counting_process_rows,
)

CHUNK_SIZE = 2000
# Subjects whose histories are read together for the time-to-event table (4 queries per batch).
SUBJECT_BATCH = 200


class ExportParameterError(ValueError):
    """A parameter of the export is invalid; ``fields`` says which, per field."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("invalid export parameters")


def scoped(queryset: QuerySet, user, *, site: str | None = None, path: str = "subject") -> QuerySet:
    """Limit rows to the user's sites (admins: all) and, if given, to one site code."""
    if not is_admin(user):
        queryset = queryset.filter(**{f"{path}__site__memberships__user": user})
    if site:
        queryset = queryset.filter(**{f"{path}__site__code": site})
    return queryset


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


SUBJECT_COLUMNS = [
    Column("site", "string", "Code of the subject's site."),
    Column("study_id", "string", "The subject's study id (unique within the site)."),
    Column("subject_id", "uuid", "The subject's id in this service."),
]


@dataclass(frozen=True)
class Dataset:
    """One exportable table."""

    name: str
    description: str
    columns: Callable[[dict], list[Column]]
    queryset: Callable[[Any, dict], QuerySet]
    rows: Callable[..., Iterator[list[Any]]]
    parameters: tuple[str, ...] = ("site",)
    # What ``count`` counts, and so what a job's progress counts: "rows", or "subjects" when one
    # item of the queryset gives several rows (the time-to-event table).
    progress_unit: str = "rows"

    def header(self, params: dict) -> list[str]:
        return [column.name for column in self.columns(params)]

    def count(self, user, params: dict) -> int:
        return self.queryset(user, params).count()

    def iter_rows(self, user, params: dict, progress=None) -> Iterator[list[Any]]:
        """Yield the rows; ``progress(done)`` is told how many subjects are done (if counted)."""
        if self.progress_unit == "subjects":
            return self.rows(self.queryset(user, params), params, progress=progress)
        return self.rows(self.queryset(user, params), params)


# --- responses ---------------------------------------------------------------------------------


def _definitions(params: dict) -> list[dict]:
    versions = InstrumentVersion.objects.order_by("code", "version")
    if params.get("instrument"):
        versions = versions.filter(code=params["instrument"])
    return [definition for (definition,) in versions.values_list("definition")]


RESPONSE_COLUMNS = [
    Column("response_id", "uuid", "The response's id."),
    *SUBJECT_COLUMNS,
    Column(
        "instrument", "string", "Instrument code.", allowed=("PHQ-9", "GAD-7", "NEURO-SX", "BPNS")
    ),
    Column("instrument_version", "integer", "Version of the instrument definition answered."),
    Column("language", "string", "The subject's language (the phone form's language)."),
    Column(
        "source", "string", "How the form was entered.", allowed=choices(Response.Source.choices)
    ),
    Column(
        "valid",
        "boolean",
        "False when too many items are missing to score (PHQ-9: more than two; GAD-7, NEURO-SX, "
        "BPNS: any).",
    ),
    Column("total", "integer", "PHQ-9 (0-27) or GAD-7 (0-21) total; empty otherwise or invalid."),
    Column(
        "band",
        "string",
        "Severity band of the total.",
        allowed=("minimal", "mild", "moderate", "moderately severe", "severe"),
    ),
    Column(
        "grade",
        "integer",
        "Subjective sensory neuropathy grade from the highest severity (0: 0, 1-3: 1, 4-6: 2, "
        "7-10: 3); on an incomplete form with symptoms, a lower bound.",
        allowed=("0", "1", "2", "3"),
    ),
    Column(
        "case",
        "boolean",
        "BPNS: neuropathy case (symptoms and bilateral signs, Cherry et al. 2005); empty when "
        "undetermined or not a BPNS.",
    ),
    Column("prorated", "boolean", "PHQ-9 total prorated from one or two missing items."),
    Column(
        "flags",
        "string",
        "Score flags, '|'-separated (e.g. item9_positive, item9_unanswered).",
    ),
    Column("invalid_reason", "string", "Why the form could not be scored."),
    Column(
        "completed_at", "datetime", "When the subject (or examiner) completed the form (ISO 8601)."
    ),
    Column("received_at", "datetime", "When the service received it (ISO 8601)."),
    Column("assessment_id", "uuid", "The scheduled assessment answered; empty for staff forms."),
    Column(
        "amendments",
        "integer",
        "How many amendments were applied (0: as received). Answers, validity and score columns "
        "are the current ones, after the latest amendment; the audit export holds each one.",
    ),
    Column("amended_at", "datetime", "When the latest amendment was made; empty if none."),
]

RESPONSE_FIELDS = (
    "id",
    "subject__site__code",
    "subject__study_id",
    "subject_id",
    "instrument_code",
    "instrument_version__version",
    "subject__language",
    "source",
    "valid",
    "score",
    "answers",
    "completed_at",
    "received_at",
    "assessment_id",
    "amendment_count",
    "amended_at",
    "amended_answers",
    "amended_score",
    "amended_valid",
)


def response_columns(params: dict) -> list[Column]:
    return [*RESPONSE_COLUMNS, *item_columns(_definitions(params))]


def response_queryset(user, params: dict) -> QuerySet:
    queryset = scoped(Response.objects.all(), user, site=params.get("site"))
    if params.get("instrument"):
        queryset = queryset.filter(instrument_code=params["instrument"])
    count = (
        Amendment.objects.filter(response=OuterRef("pk"))
        .order_by()
        .values("response")
        .annotate(n=Count("id"))
        .values("n")
    )
    amended = {k: v for k, v in current_amendment().items() if k != "entered_at"}
    return queryset.annotate(amendment_count=Coalesce(Subquery(count), 0), **amended).order_by(
        "completed_at", "id"
    )


def response_rows(queryset: QuerySet, params: dict) -> Iterator[list[Any]]:
    items = [column.name for column in item_columns(_definitions(params))]
    for (
        pk,
        site,
        study_id,
        subject_id,
        instrument,
        version,
        language,
        source,
        valid,
        score,
        answers,
        completed_at,
        received_at,
        assessment_id,
        amendment_count,
        amended_at,
        amended_answers,
        amended_score,
        amended_valid,
    ) in queryset.values_list(*RESPONSE_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        if amended_at is not None:  # the current answers: the latest amendment's
            answers, score, valid = amended_answers, amended_score, amended_valid
        score = score or {}
        yield [
            pk,
            site,
            study_id,
            subject_id,
            instrument,
            version,
            language,
            source,
            valid,
            score.get("total"),
            score.get("band"),
            score.get("grade"),
            score.get("case"),
            score.get("prorated"),
            "|".join(score.get("flags") or []),
            score.get("invalid_reason"),
            _iso(completed_at),
            _iso(received_at),
            assessment_id,
            amendment_count,
            _iso(amended_at),
            *[answers.get(code) for code in items],
        ]


# --- Cmax results with their occasions ----------------------------------------------------------

CMAX_COLUMNS = [
    Column("cmax_result_id", "uuid", "The Cmax result's id."),
    *SUBJECT_COLUMNS,
    Column("value", "decimal", "Concentration as the lab reported it, in `unit`."),
    Column("unit", "string", "Unit reported.", allowed=choices(CmaxResult.Unit.choices)),
    Column(
        "value_ug_per_ml",
        "decimal",
        "Cycloserine concentration converted to µg/mL (µmol/L × 102.09 / 1000).",
        unit="ug/mL",
    ),
    Column("sampled_at", "datetime", "Sample time (ISO 8601)."),
    Column("hours_post_dose", "decimal", "Hours from the dose to the sample.", unit="h"),
    Column("dose_at", "datetime", "Dose time: sample time minus hours after the dose."),
    Column("dose_mg", "integer", "The dose before the sample, when recorded.", unit="mg"),
    Column("lab_reference", "string", "The lab's reference (unique per subject)."),
    Column(
        "occasion",
        "integer",
        "Number of the monitoring occasion (same dose) within the subject, from 1 (oldest).",
    ),
    Column("occasion_dose_at", "datetime", "The occasion's dose time."),
    Column(
        "occasion_cmax_ug_per_ml",
        "decimal",
        "The occasion's Cmax: the highest of its samples.",
        unit="ug/mL",
    ),
    Column("is_occasion_cmax", "boolean", "True for the sample that is the occasion's Cmax."),
    Column("created_at", "datetime", "When it was recorded."),
]


def cmax_queryset(user, params: dict) -> QuerySet:
    return scoped(CmaxResult.objects.all(), user, site=params.get("site")).order_by(
        "subject_id", "sampled_at", "id"
    )


def cmax_rows(queryset: QuerySet, params: dict) -> Iterator[list[Any]]:
    fields = (
        "id",
        "subject__site__code",
        "subject__study_id",
        "subject_id",
        "value",
        "unit",
        "value_ug_per_ml",
        "sampled_at",
        "hours_post_dose",
        "dose_mg",
        "lab_reference",
        "created_at",
    )
    rows = queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE)
    for _, group in groupby(rows, key=lambda row: row[3]):
        results = list(group)  # one subject's results: a few dozen at most
        samples = [
            CmaxSample(id=str(r[0]), value_ug_per_ml=r[6], sampled_at=r[7], hours_post_dose=r[8])
            for r in results
        ]
        occasion_of = {}
        for number, occasion in enumerate(group_occasions(samples), start=1):
            for sample in occasion.samples:
                occasion_of[sample.id] = (number, occasion)
        for r in results:
            number, occasion = occasion_of[str(r[0])]
            yield [
                *r[:4],
                r[4],
                r[5],
                r[6],
                _iso(r[7]),
                r[8],
                _iso(r[7] - hours_to_timedelta(r[8])),
                r[9],
                r[10],
                number,
                _iso(occasion.dose_at),
                occasion.cmax_sample.value_ug_per_ml,
                occasion.cmax_sample.id == str(r[0]),
                _iso(r[11]),
            ]


# --- regimen changes ----------------------------------------------------------------------------

REGIMEN_COLUMNS = [
    Column("regimen_change_id", "uuid", "The regimen change's id."),
    *SUBJECT_COLUMNS,
    Column("effective_from", "datetime", "From when this regimen is given."),
    Column("drug", "string", "Drug.", allowed=choices(RegimenChange.Drug.choices)),
    Column("dose_mg_per_day", "integer", "Daily dose.", unit="mg/d"),
    Column(
        "pyridoxine_mg_per_day", "integer", "Daily pyridoxine dose, when recorded.", unit="mg/d"
    ),
    Column("isoniazid", "boolean", "Isoniazid co-medication."),
    Column("ethionamide", "boolean", "Ethionamide co-medication."),
    Column("alcohol_use", "boolean", "Alcohol use recorded."),
    Column("created_at", "datetime", "When it was recorded."),
]


def regimen_queryset(user, params: dict) -> QuerySet:
    return scoped(RegimenChange.objects.all(), user, site=params.get("site")).order_by(
        "subject_id", "effective_from", "id"
    )


def regimen_rows(queryset: QuerySet, params: dict) -> Iterator[list[Any]]:
    fields = (
        "id",
        "subject__site__code",
        "subject__study_id",
        "subject_id",
        "effective_from",
        "drug",
        "dose_mg_per_day",
        "pyridoxine_mg_per_day",
        "isoniazid",
        "ethionamide",
        "alcohol_use",
        "created_at",
    )
    for row in queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        yield [*row[:4], _iso(row[4]), *row[5:11], _iso(row[11])]


# --- alerts -------------------------------------------------------------------------------------

ALERT_COLUMNS = [
    Column("alert_id", "uuid", "The alert's id."),
    *SUBJECT_COLUMNS,
    Column("category", "string", "Alert category.", allowed=choices(Alert.Category.choices)),
    Column("severity", "string", "Severity.", allowed=choices(Alert.Severity.choices)),
    Column("status", "string", "Status now.", allowed=choices(Alert.Status.choices)),
    Column("rules", "string", "Rules of the decision table that fired, '|'-separated (D1...E1)."),
    Column("reasons", "json", "The reasons (rule, thresholds, input values, evidence ids), JSON."),
    Column("profile_version", "integer", "Version of the monitoring profile that fired it."),
    Column("created_at", "datetime", "When the alert was opened."),
    Column("escalation_tier", "integer", "Escalation tier reached."),
    Column("escalated_at", "datetime", "When it was last escalated."),
    Column("revision", "integer", "Times the alert worsened and was paged again (0: never)."),
    Column("paged_at", "datetime", "When the current tier was last paged."),
    Column("acknowledged_at", "datetime", "When a clinician acknowledged it."),
    Column("resolved_at", "datetime", "When it was resolved."),
    Column("action_taken", "string", "Resolution action.", allowed=choices(Alert.Action.choices)),
    Column("resolution_note", "string", "The resolving clinician's note."),
]


def alert_queryset(user, params: dict) -> QuerySet:
    return scoped(Alert.objects.all(), user, site=params.get("site")).order_by("created_at", "id")


def alert_rows(queryset: QuerySet, params: dict) -> Iterator[list[Any]]:
    fields = (
        "id",
        "subject__site__code",
        "subject__study_id",
        "subject_id",
        "category",
        "severity",
        "status",
        "rules",
        "reasons",
        "profile__version",
        "created_at",
        "escalation_tier",
        "escalated_at",
        "revision",
        "paged_at",
        "acknowledged_at",
        "resolved_at",
        "action_taken",
        "resolution_note",
    )
    for row in queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        yield [
            *row[:7],
            "|".join(row[7] or []),
            json.dumps(row[8], sort_keys=True, ensure_ascii=False),
            row[9],
            _iso(row[10]),
            row[11],
            _iso(row[12]),
            row[13],
            _iso(row[14]),
            _iso(row[15]),
            _iso(row[16]),
            row[17],
            row[18],
        ]


# --- assessments (the adherence table) ----------------------------------------------------------

ASSESSMENT_COLUMNS = [
    Column("assessment_id", "uuid", "The assessment's id."),
    *SUBJECT_COLUMNS,
    Column("instrument", "string", "Instrument code."),
    Column("occurrence", "integer", "Occurrence number within its schedule entry, from 0."),
    Column("opens_at", "datetime", "When its window opens."),
    Column("closes_at", "datetime", "When its window closes."),
    Column("status", "string", "State.", allowed=choices(Assessment.Status.choices)),
    Column("response_id", "uuid", "The response that completed it, if any."),
]


def assessment_queryset(user, params: dict) -> QuerySet:
    return scoped(Assessment.objects.all(), user, site=params.get("site")).order_by(
        "subject_id", "opens_at", "id"
    )


def assessment_rows(queryset: QuerySet, params: dict) -> Iterator[list[Any]]:
    fields = (
        "id",
        "subject__site__code",
        "subject__study_id",
        "subject_id",
        "instrument_code",
        "occurrence",
        "opens_at",
        "closes_at",
        "status",
        "response__id",
    )
    for row in queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        yield [*row[:6], _iso(row[6]), _iso(row[7]), row[8], row[9]]


# --- the audit trail ----------------------------------------------------------------------------

AUDIT_COLUMNS = [
    Column("audit_event_id", "integer", "The audit event's number."),
    Column("at", "datetime", "When it happened."),
    Column(
        "actor", "uuid", "Public id of the staff user who acted; empty for a subject or system."
    ),
    Column("actor_subject_id", "uuid", "The subject who acted (their phone), if any."),
    Column("action", "string", "What was done.", allowed=choices(AuditEvent.Action.choices)),
    Column("object_type", "string", "The changed object's model (app.Model)."),
    Column("object_id", "string", "The changed object's id."),
    *SUBJECT_COLUMNS,
    Column("changes", "json", "The changed values, JSON."),
    Column("reason", "string", "Why, when given."),
]


def audit_queryset(user, params: dict) -> QuerySet:
    return scoped(AuditEvent.objects.all(), user, site=params.get("site")).order_by("at", "id")


def audit_rows(queryset: QuerySet, params: dict) -> Iterator[list[Any]]:
    fields = (
        "id",
        "at",
        "actor__staff_profile__public_id",
        "actor_subject_id",
        "action",
        "object_type",
        "object_id",
        "subject__site__code",
        "subject__study_id",
        "subject_id",
        "changes",
        "reason",
    )
    for row in queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        yield [
            row[0],
            _iso(row[1]),
            *row[2:10],
            json.dumps(row[10], sort_keys=True, ensure_ascii=False),
            row[11],
        ]


# --- the time-to-event table --------------------------------------------------------------------

TIME_TO_EVENT_COLUMNS = {
    "subject_id": Column("subject_id", "uuid", "The subject's id (cluster on it)."),
    "site": Column("site", "string", "Code of the subject's site."),
    "study_id": Column("study_id", "string", "The subject's study id."),
    "endpoint": Column(
        "endpoint",
        "string",
        "The event of this table: "
        + "; ".join(f"{name}: {meaning}" for name, meaning in ENDPOINTS.items())
        + ". Follow-up ends at the last completed assessment or at withdrawal, whichever is "
        "earlier; an event at or before treatment start leaves the subject out.",
        allowed=tuple(ENDPOINTS),
    ),
    "start": Column(
        "start",
        "decimal",
        "Interval start (exclusive), days since treatment start (the subject's local midnight).",
        unit="d",
    ),
    "stop": Column(
        "stop", "decimal", "Interval end (inclusive), days since treatment start.", unit="d"
    ),
    "event": Column(
        "event",
        "integer",
        "1 when the endpoint's first event happens at `stop`, else 0 (censored or continuing).",
        allowed=("0", "1"),
    ),
    "cmax_ug_per_ml": Column(
        "cmax_ug_per_ml",
        "decimal",
        "Current Cmax during the interval: highest sample of the latest occasion, within the "
        "profile's recency window and dosed after the latest dose change; empty when none.",
        unit="ug/mL",
    ),
    "cmax_known": Column(
        "cmax_known",
        "integer",
        "1 when a current Cmax exists during the interval.",
        allowed=("0", "1"),
    ),
    "cmax_above_ceiling": Column(
        "cmax_above_ceiling",
        "integer",
        "1 when the current Cmax is above the profile's ceiling (35 µg/mL by default, WHO 2014; "
        "exactly the ceiling is not above); 0 otherwise, also when there is none.",
        allowed=("0", "1"),
    ),
    "dose_mg_per_day": Column(
        "dose_mg_per_day", "integer", "Cycloserine dose in force (empty before any).", unit="mg/d"
    ),
    "pyridoxine_mg_per_day": Column(
        "pyridoxine_mg_per_day", "integer", "Pyridoxine dose in force, when recorded.", unit="mg/d"
    ),
    "isoniazid": Column("isoniazid", "integer", "1 while on isoniazid.", allowed=("0", "1")),
    "ethionamide": Column("ethionamide", "integer", "1 while on ethionamide.", allowed=("0", "1")),
    "age": Column(
        "age", "integer", "Age at treatment start (start year minus year of birth).", unit="a"
    ),
    "sex": Column("sex", "string", "Sex.", allowed=choices(Subject.Sex.choices)),
    "hiv_positive": Column("hiv_positive", "integer", "1 HIV positive, 0 negative, empty unknown."),
    "renal_impairment": Column(
        "renal_impairment", "integer", "1 renal impairment, 0 none, empty unknown."
    ),
}
assert list(TIME_TO_EVENT_COLUMNS) == TABLE_COLUMNS


def subject_origin(subject: Subject) -> datetime:
    """Return time 0 of the table: the subject's local midnight of the treatment start day."""
    try:
        zone = ZoneInfo(subject.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.combine(subject.treatment_start, time.min, tzinfo=zone)


def subject_histories(subjects: list[Subject]) -> list[SubjectHistory]:
    """Read the histories of a batch of subjects (four queries whatever the batch size)."""
    ids = [subject.pk for subject in subjects]
    regimen: dict = {}
    for change in RegimenChange.objects.filter(subject_id__in=ids).order_by(
        "effective_from", "created_at"
    ):
        regimen.setdefault(change.subject_id, []).append(
            RegimenPoint(
                effective_from=change.effective_from,
                drug=change.drug,
                dose_mg_per_day=change.dose_mg_per_day,
                pyridoxine_mg_per_day=change.pyridoxine_mg_per_day,
                isoniazid=change.isoniazid,
                ethionamide=change.ethionamide,
            )
        )
    samples: dict = {}
    for pk, subject_id, value, at, hours in CmaxResult.objects.filter(
        subject_id__in=ids
    ).values_list("id", "subject_id", "value_ug_per_ml", "sampled_at", "hours_post_dose"):
        samples.setdefault(subject_id, []).append(
            CmaxSample(id=str(pk), value_ug_per_ml=value, sampled_at=at, hours_post_dose=hours)
        )
    outcomes: dict = {}
    for subject_id, instrument, valid, score, at in Response.objects.filter(
        subject_id__in=ids
    ).values_list("subject_id", "instrument_code", "valid", "score", "completed_at"):
        score = score or {}
        outcomes.setdefault(subject_id, []).append(
            Outcome(
                completed_at=at,
                instrument=instrument,
                valid=valid,
                total=score.get("total"),
                grade=score.get("grade"),
                case=score.get("case"),
            )
        )
    alerts: dict = {}
    for subject_id, at in Alert.objects.filter(
        subject_id__in=ids, category=Alert.Category.DISCONTINUATION
    ).values_list("subject_id", "created_at"):
        alerts.setdefault(subject_id, []).append(at)
    return [
        SubjectHistory(
            subject_id=str(subject.pk),
            site=subject.site.code,
            study_id=subject.study_id,
            origin=subject_origin(subject),
            age=subject.treatment_start.year - subject.year_of_birth
            if subject.year_of_birth
            else None,
            sex=subject.sex,
            hiv_positive=subject.hiv_positive,
            renal_impairment=subject.renal_impairment,
            withdrawn_at=subject.withdrawn_at,
            regimen=tuple(regimen.get(subject.pk, ())),
            cmax_samples=tuple(samples.get(subject.pk, ())),
            responses=tuple(outcomes.get(subject.pk, ())),
            discontinuation_alerts=tuple(alerts.get(subject.pk, ())),
        )
        for subject in subjects
    ]


def time_to_event_queryset(user, params: dict) -> QuerySet:
    endpoint = params.get("endpoint") or "any"
    if endpoint not in ENDPOINTS:
        raise ExportParameterError({"endpoint": [f"One of {', '.join(ENDPOINTS)}."]})
    subjects = Subject.objects.select_related("site")
    if not is_admin(user):
        subjects = subjects.filter(site__memberships__user=user)
    if params.get("site"):
        subjects = subjects.filter(site__code=params["site"])
    return subjects.order_by("site__code", "study_id")


def time_to_event_rows(queryset: QuerySet, params: dict, progress=None) -> Iterator[list[Any]]:
    endpoint = params.get("endpoint") or "any"
    profile = current_profile()
    batch: list[Subject] = []
    done = 0

    def flush() -> Iterator[list[Any]]:
        for history in subject_histories(batch):
            for row in counting_process_rows(
                history,
                endpoint=endpoint,
                ceiling=profile.cmax_ceiling,
                recency_days=profile.cmax_recency_days,
            ):
                yield [row[name] for name in TABLE_COLUMNS]
        nonlocal done
        done += len(batch)
        if progress is not None:
            progress(done)

    for subject in queryset.iterator(chunk_size=SUBJECT_BATCH):
        batch.append(subject)
        if len(batch) >= SUBJECT_BATCH:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def _fixed(columns: list[Column]) -> Callable[[dict], list[Column]]:
    return lambda params: columns


DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in [
        Dataset(
            "responses",
            "One row per response: item answers as columns, score, band, flags, version, source.",
            response_columns,
            response_queryset,
            response_rows,
            parameters=("site", "instrument"),
        ),
        Dataset(
            "cmax-results",
            "One row per Cmax sample, with its monitoring occasion.",
            _fixed(CMAX_COLUMNS),
            cmax_queryset,
            cmax_rows,
        ),
        Dataset(
            "regimen-changes",
            "One row per regimen change.",
            _fixed(REGIMEN_COLUMNS),
            regimen_queryset,
            regimen_rows,
        ),
        Dataset(
            "alerts",
            "One row per alert: rules, reasons, times and resolution.",
            _fixed(ALERT_COLUMNS),
            alert_queryset,
            alert_rows,
        ),
        Dataset(
            "assessments",
            "One row per scheduled assessment with its state (the adherence table).",
            _fixed(ASSESSMENT_COLUMNS),
            assessment_queryset,
            assessment_rows,
        ),
        Dataset(
            "audit",
            "The audit trail of the subjects you may see (admins: all, also events of no subject).",
            _fixed(AUDIT_COLUMNS),
            audit_queryset,
            audit_rows,
        ),
        Dataset(
            "time-to-event",
            "Counting-process rows (start, stop] per subject for Cox models (one endpoint).",
            _fixed(list(TIME_TO_EVENT_COLUMNS.values())),
            time_to_event_queryset,
            time_to_event_rows,
            parameters=("site", "endpoint"),
            progress_unit="subjects",
        ),
    ]
}


def all_columns() -> dict[str, list[Column]]:
    """Every dataset's columns (responses: the items of every loaded instrument version)."""
    return {name: dataset.columns({}) for name, dataset in DATASETS.items()}
