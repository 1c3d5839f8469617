"""Accept responses: from the subject's phone (exactly once) and from staff (paper, interview,
examination). Each is validated item by item, scored, stored once with its score and instrument
version, audited, and queues an evaluation in the same transaction.
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from questionnaires.definitions import served_language
from questionnaires.models import InstrumentVersion
from questionnaires.scoring import (
    ITEM9_POSITIVE,
    ScoringError,
    UnknownScoringError,
    score_definition,
)
from questionnaires.services import get_current_version
from questionnaires.validation import ANSWERS_FIELD, validate_answers
from screening.audit import record_audit
from screening.models import Assessment, AuditEvent, Response, Subject
from screening.services.outbox import request_evaluation

# A device clock may run a little fast; beyond this a "completed" time in the future is refused.
CLOCK_SKEW = timedelta(minutes=5)
STAFF_SOURCES = (Response.Source.PAPER, Response.Source.INTERVIEW, Response.Source.EXAMINATION)


class SubmissionRejected(Exception):
    """A submission that is not stored. ``kind`` is invalid, conflict or key_reused."""

    def __init__(self, kind: str, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.fields = fields or {}


class AssessmentNotFound(Exception):
    """No such assessment for this subject."""


@dataclass(frozen=True)
class PhoneReply:
    """What the phone is answered: the status and the exact JSON text, stored for replays."""

    status: int
    body: str
    created: bool


def hash_request(*, assessment_id, body: object) -> str:
    """Return the SHA-256 of the canonical JSON of the request (assessment and body)."""
    canonical = json.dumps(
        {"assessment": str(assessment_id), "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _answer_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Name each bad item as the request field it came from (``answers.phq9_9``)."""
    named = {}
    for key, messages in errors.items():
        # An unknown item's code is echoed back: make sure it can be encoded (no lone surrogates).
        safe = key.encode("utf-8", "backslashreplace").decode("utf-8")
        named[safe if key == ANSWERS_FIELD else f"{ANSWERS_FIELD}.{safe}"] = messages
    return named


def _validate_and_score(version: InstrumentVersion, answers: object, *, require_all: bool):
    """Validate answers against the version's definition and score them; raise if invalid."""
    definition = version.definition
    errors = validate_answers(definition, answers, require_all_required=require_all)
    if errors:
        raise SubmissionRejected(
            "invalid",
            "invalid_answers",
            "Some answers are invalid: see fields.",
            _answer_errors(errors),
        )
    try:
        return score_definition(definition, cast(Mapping[str, Any], answers))  # validated
    except (ScoringError, UnknownScoringError):
        # Validation passed, so this is a definition/scorer mismatch; never a 500 for the caller.
        raise SubmissionRejected(
            "invalid", "invalid_answers", "The answers could not be scored.", {ANSWERS_FIELD: []}
        ) from None


def _check_times(
    *,
    started_at: datetime | None,
    completed_at: datetime | None,
    now: datetime,
    earliest: datetime,
    earliest_words: str,
):
    """Refuse device or staff times outside [earliest - CLOCK_SKEW, now + CLOCK_SKEW].

    A phone's clock may be a little off (``CLOCK_SKEW``, 5 minutes), never weeks: a form claiming
    to be completed before its assessment opened is refused with a per-field error rather than
    stored with a time the look-back windows would misread (docs/clinical-reference.md §4.1).
    """
    fields: dict[str, list[str]] = {}
    for name, value in (("completed_at", completed_at), ("started_at", started_at)):
        if value is None:
            continue
        if value > now + CLOCK_SKEW:
            fields[name] = ["Cannot be in the future."]
        elif value < earliest - CLOCK_SKEW:
            fields[name] = [f"Cannot be before {earliest_words} ({earliest.isoformat()})."]
    if started_at is not None and completed_at is not None and started_at > completed_at:
        fields.setdefault("started_at", []).append("Must not be after completed_at.")
    if fields:
        raise SubmissionRejected(
            "invalid", "invalid", "The request is invalid: see fields.", fields
        )


def enrolment_start(subject: Subject) -> datetime:
    """Return the earliest time a staff-entered form may have been completed.

    The start of the subject's treatment-start day in its time zone, or its registration in the
    system if that was earlier: a paper form from before treatment started predates enrolment.
    """
    start = datetime.combine(subject.treatment_start, time.min, tzinfo=ZoneInfo(subject.timezone))
    return min(start, subject.created_at)


def _replay_or_conflict(*, subject: Subject, assessment: Assessment, key: str, request_hash: str):
    """Answer a repeat: replay the stored reply, or refuse a reused key or a second answer."""
    existing = Response.objects.filter(subject=subject, idempotency_key=key).first()
    if existing is not None:
        if existing.request_hash == request_hash and existing.reply_status is not None:
            return PhoneReply(status=existing.reply_status, body=existing.reply_body, created=False)
        raise SubmissionRejected(
            "key_reused",
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request.",
        )
    if Response.objects.filter(assessment=assessment).exists():
        raise SubmissionRejected(
            "conflict", "already_answered", "This assessment has already been answered."
        )
    return None


def _check_open(assessment: Assessment, now: datetime) -> None:
    """Refuse an assessment that cannot be answered now."""
    if assessment.status == Assessment.Status.CANCELLED:
        raise SubmissionRejected("conflict", "cancelled", "This assessment was cancelled.")
    if assessment.status == Assessment.Status.COMPLETED:
        raise SubmissionRejected(
            "conflict", "already_answered", "This assessment has already been answered."
        )
    if now < assessment.opens_at:
        raise SubmissionRejected("conflict", "not_open", "This assessment is not open yet.")
    if assessment.status == Assessment.Status.MISSED or now >= assessment.closes_at:
        raise SubmissionRejected("conflict", "window_closed", "This assessment has closed.")


def _support_message(subject: Subject) -> str:
    return subject.site.crisis_message.strip() or settings.DEFAULT_CRISIS_MESSAGE


@transaction.atomic
def _submit_phone(
    *,
    subject: Subject,
    assessment_id,
    answers: object,
    started_at: datetime | None,
    completed_at: datetime | None,
    idempotency_key: str,
    request_hash: str,
) -> PhoneReply:
    assessment = (
        Assessment.objects.select_for_update().filter(pk=assessment_id, subject=subject).first()
    )
    if assessment is None:
        raise AssessmentNotFound
    repeat = _replay_or_conflict(
        subject=subject, assessment=assessment, key=idempotency_key, request_hash=request_hash
    )
    if repeat is not None:
        return repeat
    now = timezone.now()
    _check_open(assessment, now)
    _check_times(
        started_at=started_at,
        completed_at=completed_at,
        now=now,
        earliest=assessment.opens_at,
        earliest_words="the assessment opened",
    )
    version = get_current_version(assessment.instrument_code)
    if version is None:
        raise SubmissionRejected(
            "conflict", "instrument_unavailable", "This assessment's instrument is not available."
        )
    result = _validate_and_score(version, answers, require_all=True)
    response_id = uuid.uuid4()
    reply: dict = {"id": str(response_id), "status": Assessment.Status.COMPLETED.value}
    # PHQ-9 item 9 >= 1 starts the suicide-risk pathway (docs/clinical-reference.md §1): the subject
    # is shown the site's crisis contacts at once; the alert follows through the evaluation.
    if ITEM9_POSITIVE in result.flags:
        reply["support_message"] = _support_message(subject)
    body = json.dumps(reply, ensure_ascii=False, separators=(",", ":"))
    response = Response.objects.create(
        id=response_id,
        subject=subject,
        assessment=assessment,
        instrument_version=version,
        instrument_code=version.code,
        source=Response.Source.PHONE,
        answers=answers,
        # What the phone showed: the subject's language where the instrument has it, else English.
        language=served_language(version.definition, subject.language),
        score=result.as_dict(),
        valid=result.valid,
        started_at=started_at,
        completed_at=completed_at or now,
        received_at=now,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reply_status=201,
        reply_body=body,
    )
    assessment.status = Assessment.Status.COMPLETED
    assessment.save(update_fields=["status", "updated_at"])
    record_audit(
        action=AuditEvent.Action.CREATE,
        obj=response,
        actor_subject=subject,
        subject=subject,
        changes={
            "assessment": str(assessment.pk),
            "instrument": version.code,
            "version": version.version,
            "source": response.source,
            "valid": response.valid,
        },
    )
    request_evaluation(subject=subject, reason="response", source_id=response.pk)
    return PhoneReply(status=201, body=body, created=True)


def submit_phone_response(
    *,
    subject: Subject,
    assessment_id,
    answers: object,
    idempotency_key: str,
    request_hash: str,
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
) -> PhoneReply:
    """Store the subject's answers to one assessment exactly once; return the reply to send.

    The assessment row is locked for the whole transaction, so concurrent submissions queue up;
    the unique constraints (one response per assessment, one per subject and key) are the final
    guard: a lost race is re-read and answered as a replay or a conflict, never an error.
    Raises AssessmentNotFound or SubmissionRejected.
    """
    arguments = {
        "subject": subject,
        "assessment_id": assessment_id,
        "answers": answers,
        "started_at": started_at,
        "completed_at": completed_at,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
    }
    try:
        return _submit_phone(**arguments)
    except IntegrityError:
        # Another transaction committed the same key or the same assessment first.
        return _submit_phone(**arguments)


@transaction.atomic
def enter_staff_response(
    *,
    subject: Subject,
    instrument_code: str,
    answers: object,
    completed_at: datetime,
    source: str,
    entered_by,
) -> Response:
    """Store a form entered by staff (paper, interview or examination); return the response.

    Missing items follow the instrument's missing-data rule: a form that cannot be scored is
    stored with ``valid`` false and its flags (an unanswered PHQ-9 item 9 must reach a clinician).
    Clinician instruments (BPNS) are entered only as an examination, and an examination only for
    them. Audited; queues an evaluation.
    """
    version = get_current_version(instrument_code)
    if version is None:
        raise SubmissionRejected(
            "invalid", "invalid", "Unknown instrument.", {"instrument": ["Unknown instrument."]}
        )
    is_clinician = version.kind == "clinician"
    if is_clinician != (source == Response.Source.EXAMINATION):
        message = (
            "A clinician-administered instrument is entered with source examination."
            if is_clinician
            else "Source examination is only for clinician-administered instruments."
        )
        raise SubmissionRejected("invalid", "invalid", message, {"source": [message]})
    now = timezone.now()
    _check_times(
        started_at=None,
        completed_at=completed_at,
        now=now,
        earliest=enrolment_start(subject),
        earliest_words="the subject's enrolment",
    )
    result = _validate_and_score(version, answers, require_all=False)
    response = Response.objects.create(
        subject=subject,
        instrument_version=version,
        instrument_code=version.code,
        source=source,
        answers=answers,
        score=result.as_dict(),
        valid=result.valid,
        completed_at=completed_at,
        received_at=now,
        entered_by=entered_by,
    )
    record_audit(
        action=AuditEvent.Action.CREATE,
        obj=response,
        actor=entered_by,
        subject=subject,
        changes={
            "instrument": version.code,
            "version": version.version,
            "source": source,
            "valid": response.valid,
        },
    )
    request_evaluation(subject=subject, reason="response", source_id=response.pk)
    return response
