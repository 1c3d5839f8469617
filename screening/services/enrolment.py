"""Enrolment use-cases: enrol, update and withdraw a subject, record a regimen change.

Every function is atomic and takes keyword arguments only. Changes of clinical data are audited
in the same transaction; logs carry study ids and object ids, never contact details.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from django.db import IntegrityError, transaction
from django.utils import timezone

from screening import occurrences
from screening.audit import audit_value, record_audit
from screening.models import (
    Assessment,
    AuditEvent,
    RegimenChange,
    Schedule,
    Site,
    Subject,
)
from screening.services.assessments import materialise_assessments
from screening.services.outbox import request_evaluation

logger = logging.getLogger(__name__)


# Subject fields that PATCH may change, and whose old/new values the audit trail records.
SUBJECT_FIELDS = (
    "study_id",
    "timezone",
    "language",
    "treatment_start",
    "sex",
    "year_of_birth",
    "hiv_positive",
    "renal_impairment",
)


# Changing one of these re-times the subject's assessments that have not opened yet.
TIMING_FIELDS = {"timezone", "treatment_start", "schedule"}


REGIMEN_FIELDS = (
    "drug",
    "dose_mg_per_day",
    "pyridoxine_mg_per_day",
    "isoniazid",
    "ethionamide",
    "alcohol_use",
)


class DuplicateStudyId(Exception):
    """The study id is already used at the site."""


class AlreadyWithdrawn(Exception):
    """The subject was withdrawn before."""


def subject_local_midnight(subject: Subject, day: date) -> datetime:
    """Return 00:00 of the day in the subject's time zone, as a UTC instant."""
    return occurrences.local_to_utc(day, time(0, 0), subject.timezone)


@transaction.atomic
def enrol_subject(
    *,
    site: Site,
    study_id: str,
    treatment_start: date,
    timezone_name: str,
    language: str = "en",
    schedule: Schedule | None = None,
    sex: str = "",
    year_of_birth: int | None = None,
    hiv_positive: bool | None = None,
    renal_impairment: bool | None = None,
    contact_email: str = "",
    contact_phone: str = "",
    regimen: dict | None = None,
    actor=None,
    now: datetime | None = None,
) -> Subject:
    """Enrol a subject: create it, its first regimen and its assessments, all audited.

    The site's default schedule applies when none is given. Raises DuplicateStudyId when the
    study id is taken at the site (also when a concurrent request took it first).
    """
    now = now or timezone.now()
    if schedule is None:
        schedule = Schedule.objects.filter(site=site, is_default=True).first()
    subject = Subject(
        site=site,
        study_id=study_id,
        treatment_start=treatment_start,
        timezone=timezone_name,
        language=language,
        schedule=schedule,
        sex=sex,
        year_of_birth=year_of_birth,
        hiv_positive=hiv_positive,
        renal_impairment=renal_impairment,
    )
    subject.contact_email = contact_email
    subject.contact_phone = contact_phone
    try:
        with transaction.atomic():
            subject.save(force_insert=True)
    except IntegrityError as exc:
        raise DuplicateStudyId(study_id) from exc
    changes = {field: audit_value(getattr(subject, field)) for field in SUBJECT_FIELDS}
    changes["site"] = site.code
    changes["schedule"] = audit_value(schedule)
    if contact_email:
        changes["contact_email"] = "set"
    if contact_phone:
        changes["contact_phone"] = "set"
    record_audit(
        action=AuditEvent.Action.CREATE, obj=subject, actor=actor, subject=subject, changes=changes
    )
    if regimen:
        record_regimen_change(
            subject=subject,
            effective_from=subject_local_midnight(subject, treatment_start),
            actor=actor,
            **regimen,
        )
    materialise_assessments(subject=subject, now=now)
    logger.info(
        "subject enrolled", extra={"subject_id": str(subject.pk), "study_id": subject.study_id}
    )
    return subject


_UNSET = object()


@transaction.atomic
def update_subject(
    *,
    subject: Subject,
    fields: dict,
    contact: dict | None = None,
    schedule=_UNSET,
    actor=None,
    now: datetime | None = None,
) -> Subject:
    """Change a subject's details; audit old and new values (contact details only as "changed").

    A change of time zone, treatment start or schedule re-times the assessments not opened yet.
    Raises DuplicateStudyId when a new study id is taken at the site.
    """
    now = now or timezone.now()
    subject = Subject.objects.select_for_update().get(pk=subject.pk)
    changes: dict = {}
    update_fields = []
    for field, value in fields.items():
        if field not in SUBJECT_FIELDS:
            raise ValueError(f"{field} cannot be changed")
        old = getattr(subject, field)
        if old != value:
            changes[field] = {"old": audit_value(old), "new": audit_value(value)}
            setattr(subject, field, value)
            update_fields.append(field)
    if schedule is not _UNSET and subject.schedule_id != (schedule.pk if schedule else None):
        changes["schedule"] = {"old": audit_value(subject.schedule), "new": audit_value(schedule)}
        subject.schedule = schedule
        update_fields.append("schedule")
    for key in ("email", "phone"):
        if contact is None or key not in contact:
            continue
        attribute = f"contact_{key}"
        new = contact[key] or ""
        if getattr(subject, attribute) != new:
            setattr(subject, attribute, new)
            changes[attribute] = "changed" if new else "removed"
            update_fields.append(f"{attribute}_encrypted")
    if not changes:
        return subject
    try:
        with transaction.atomic():
            subject.save(update_fields=[*update_fields, "updated_at"])
    except IntegrityError as exc:
        raise DuplicateStudyId(subject.study_id) from exc
    record_audit(
        action=AuditEvent.Action.UPDATE, obj=subject, actor=actor, subject=subject, changes=changes
    )
    if TIMING_FIELDS & set(changes):
        materialise_assessments(subject=subject, now=now)
    return subject


@transaction.atomic
def withdraw_subject(
    *, subject: Subject, reason: str, actor=None, now: datetime | None = None
) -> Subject:
    """Withdraw a subject: cancel its scheduled and open assessments, keep all its data."""
    now = now or timezone.now()
    subject = Subject.objects.select_for_update().get(pk=subject.pk)
    if subject.status == Subject.Status.WITHDRAWN:
        raise AlreadyWithdrawn(subject.study_id)
    subject.status = Subject.Status.WITHDRAWN
    subject.withdrawn_at = now
    subject.save(update_fields=["status", "withdrawn_at", "updated_at"])
    cancelled = Assessment.objects.filter(
        subject=subject, status__in=[Assessment.Status.SCHEDULED, Assessment.Status.OPEN]
    ).update(status=Assessment.Status.CANCELLED, updated_at=now)
    record_audit(
        action=AuditEvent.Action.WITHDRAW,
        obj=subject,
        actor=actor,
        subject=subject,
        changes={
            "status": {"old": Subject.Status.ACTIVE, "new": Subject.Status.WITHDRAWN},
            "cancelled_assessments": cancelled,
        },
        reason=reason,
    )
    logger.info(
        "subject withdrawn",
        extra={"subject_id": str(subject.pk), "study_id": subject.study_id, "cancelled": cancelled},
    )
    return subject


@transaction.atomic
def record_regimen_change(
    *,
    subject: Subject,
    effective_from: datetime,
    drug: str,
    dose_mg_per_day: int,
    pyridoxine_mg_per_day: int | None = None,
    isoniazid: bool = False,
    ethionamide: bool = False,
    alcohol_use: bool = False,
    actor=None,
) -> RegimenChange:
    """Record a regimen change, audit it and queue the subject's evaluation in this transaction."""
    change = RegimenChange.objects.create(
        subject=subject,
        effective_from=effective_from,
        drug=drug,
        dose_mg_per_day=dose_mg_per_day,
        pyridoxine_mg_per_day=pyridoxine_mg_per_day,
        isoniazid=isoniazid,
        ethionamide=ethionamide,
        alcohol_use=alcohol_use,
        entered_by=actor if actor is not None and actor.is_authenticated else None,
    )
    record_audit(
        action=AuditEvent.Action.CREATE,
        obj=change,
        actor=actor,
        subject=subject,
        changes={
            "effective_from": effective_from.isoformat(),
            **{field: getattr(change, field) for field in REGIMEN_FIELDS},
        },
    )
    request_evaluation(subject=subject, reason="regimen", source_id=str(change.pk))
    return change
