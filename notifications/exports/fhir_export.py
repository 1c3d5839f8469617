"""FHIR R4 resources out: QuestionnaireResponse, Observation (scores and Cmax), DetectedIssue.

Builders (``questionnaire_response``, ``score_observations``, ``cmax_observation``,
``alert_detected_issue``) take plain dicts and return plain dicts (JSON-ready FHIR R4; the tests
validate each with fhir.resources' R4B models, whose structure is R4's). The iterators read
the database in chunks, limited to the subjects the user may see. Codes are listed in
``docs/fhir.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch

from questionnaires.definitions import localise
from questionnaires.fhir import (
    LOCAL_OBSERVATION_SYSTEM,
    LOINC_SYSTEM,
    answer_coding,
    questionnaire_canonical,
)
from questionnaires.models import InstrumentVersion
from screening.models import CmaxResult, Response

from ..models import Alert
from .datasets import CHUNK_SIZE, scoped

RESOURCE_TYPES = ("QuestionnaireResponse", "Observation", "DetectedIssue")
UCUM_SYSTEM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
# A lab's reference of a Cmax sample (``CmaxResult.lab_reference``): the Observation identifier.
LAB_REFERENCE_SYSTEM = "urn:cycloserine-screening:lab-reference"
RESPONSE_ID_SYSTEM = "urn:cycloserine-screening:response"
ALERT_ID_SYSTEM = "urn:cycloserine-screening:alert"
ALERT_CATEGORY_SYSTEM = "urn:cycloserine-screening:alert-category"
ALERT_RULE_SYSTEM = "urn:cycloserine-screening:decision-rule"
ALERT_ACTION_SYSTEM = "urn:cycloserine-screening:alert-action"
SUBJECT_ID_SYSTEM_PREFIX = "urn:cycloserine-screening:study-id:"
# No LOINC code for cycloserine in serum or plasma could be confirmed from a reliable source, so
# the Cmax uses a local code (docs/fhir.md).
CMAX_CODE = "cycloserine-cmax"
CMAX_DISPLAY = "Cycloserine [Mass/volume] in Serum or Plasma, peak (Cmax) sample"
HOURS_AFTER_DOSE_CODE = "hours-after-dose"
DOSE_CODE = "dose-mg"
# Units of CmaxResult.unit as UCUM codes (they are already UCUM).
UCUM_UNITS = {"ug/mL": "ug/mL", "mg/L": "mg/L", "umol/L": "umol/L"}
# Alert severity -> DetectedIssue.severity (high | moderate | low).
SEVERITY = {"urgent": "high", "high": "moderate", "routine": "low"}


def _time(value) -> str:
    return value.isoformat()


def _decimal(value: Decimal | str) -> float:
    return float(Decimal(value))


def patient_reference(subject_id: str, site: str, study_id: str) -> dict[str, Any]:
    """Return the Reference to a subject: its id, and its study id within the site."""
    return {
        "reference": f"Patient/{subject_id}",
        "identifier": {"system": f"{SUBJECT_ID_SYSTEM_PREFIX}{site}", "value": study_id},
    }


def questionnaire_response(row: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """Return a response as a QuestionnaireResponse linked to its versioned Questionnaire."""
    rendered, _ = localise(definition, "en")
    items = []
    for item, shown in zip(definition["items"], rendered["items"], strict=True):
        value = row["answers"].get(item["code"])
        if value is None:
            continue
        answer: dict[str, Any]
        if item["type"] == "choice":
            labels = {
                o["value"]: s["label"]
                for o, s in zip(item["options"], shown["options"], strict=True)
            }
            option = next((o for o in item["options"] if o["value"] == value), None)
            if option is None:
                continue
            answer = {"valueCoding": answer_coding(definition, item, option, labels[value])}
        else:
            answer = {"valueInteger": int(value)}
        items.append({"linkId": item["code"], "text": shown["text"], "answer": [answer]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(row["id"]),
        "identifier": {"system": RESPONSE_ID_SYSTEM, "value": str(row["id"])},
        "questionnaire": questionnaire_canonical(definition),
        "status": "completed",
        "subject": patient_reference(str(row["subject_id"]), row["site"], row["study_id"]),
        "authored": _time(row["completed_at"]),
    }
    if items:
        resource["item"] = items
    return resource


def _score_observation(row, suffix, coding, value_key, value, valid) -> dict[str, Any]:
    observation = {
        "resourceType": "Observation",
        "id": f"{row['id']}-{suffix}",
        "status": "final" if valid else "preliminary",
        "category": [
            {
                "coding": [
                    {"system": OBSERVATION_CATEGORY_SYSTEM, "code": "survey", "display": "Survey"}
                ]
            }
        ],
        "code": {"coding": [coding], "text": coding["display"]},
        "subject": patient_reference(str(row["subject_id"]), row["site"], row["study_id"]),
        "effectiveDateTime": _time(row["completed_at"]),
        value_key: value,
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{row['id']}"}],
    }
    if not valid:
        observation["note"] = [
            {"text": "Incomplete form: the value is a lower bound from the answered items."}
        ]
    return observation


def score_observations(row: dict[str, Any], definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the Observations of a response's scores: LOINC total, neuropathy grade, BPNS case."""
    score = row["score"] or {}
    loinc = (definition.get("loinc") or {}).get("total")
    valid = bool(row["valid"])
    observations = []
    if loinc and score.get("total") is not None:
        coding = {
            "system": LOINC_SYSTEM,
            "code": loinc,
            "display": f"{definition['code']} total score",
        }
        observations.append(
            _score_observation(row, "total", coding, "valueInteger", score["total"], valid)
        )
    if score.get("grade") is not None:
        coding = {
            "system": LOCAL_OBSERVATION_SYSTEM,
            "code": "neuropathy-grade",
            "display": "Subjective sensory neuropathy grade",
        }
        observations.append(
            _score_observation(row, "grade", coding, "valueInteger", score["grade"], valid)
        )
    if definition.get("scoring") == "BPNS" and score.get("case") is not None:
        coding = {
            "system": LOCAL_OBSERVATION_SYSTEM,
            "code": "bpns-case",
            "display": "Peripheral neuropathy case (BPNS)",
        }
        observations.append(
            _score_observation(row, "case", coding, "valueBoolean", bool(score["case"]), valid)
        )
    return observations


def cmax_observation(row: dict[str, Any]) -> dict[str, Any]:
    """Return a Cmax result as a laboratory Observation (value as reported, UCUM unit)."""
    unit = UCUM_UNITS[row["unit"]]
    components = [
        {
            "code": {
                "coding": [
                    {
                        "system": LOCAL_OBSERVATION_SYSTEM,
                        "code": HOURS_AFTER_DOSE_CODE,
                        "display": "Hours from the dose to the sample",
                    }
                ]
            },
            "valueQuantity": {
                "value": _decimal(row["hours_post_dose"]),
                "unit": "h",
                "system": UCUM_SYSTEM,
                "code": "h",
            },
        }
    ]
    if row.get("dose_mg") is not None:
        components.append(
            {
                "code": {
                    "coding": [
                        {
                            "system": LOCAL_OBSERVATION_SYSTEM,
                            "code": DOSE_CODE,
                            "display": "Cycloserine dose before the sample",
                        }
                    ]
                },
                "valueQuantity": {
                    "value": row["dose_mg"],
                    "unit": "mg",
                    "system": UCUM_SYSTEM,
                    "code": "mg",
                },
            }
        )
    return {
        "resourceType": "Observation",
        "id": str(row["id"]),
        "identifier": [{"system": LAB_REFERENCE_SYSTEM, "value": row["lab_reference"]}],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": OBSERVATION_CATEGORY_SYSTEM,
                        "code": "laboratory",
                        "display": "Laboratory",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": LOCAL_OBSERVATION_SYSTEM, "code": CMAX_CODE, "display": CMAX_DISPLAY}
            ],
            "text": CMAX_DISPLAY,
        },
        "subject": patient_reference(str(row["subject_id"]), row["site"], row["study_id"]),
        "effectiveDateTime": _time(row["sampled_at"]),
        "valueQuantity": {
            "value": _decimal(row["value"]),
            "unit": unit,
            "system": UCUM_SYSTEM,
            "code": unit,
        },
        "component": components,
    }


def alert_detected_issue(row: dict[str, Any]) -> dict[str, Any]:
    """Return an alert as a DetectedIssue: category and rules, reasons, evidence, resolution."""
    codings = [{"system": ALERT_CATEGORY_SYSTEM, "code": row["category"]}]
    codings += [{"system": ALERT_RULE_SYSTEM, "code": rule} for rule in row["rules"]]
    texts = [reason.get("text", "") for reason in row["reasons"] if isinstance(reason, dict)]
    resource: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": str(row["id"]),
        "identifier": [{"system": ALERT_ID_SYSTEM, "value": str(row["id"])}],
        "status": "final",
        "code": {"coding": codings, "text": f"{row['category']} ({', '.join(row['rules'])})"},
        "severity": SEVERITY[row["severity"]],
        "patient": patient_reference(str(row["subject_id"]), row["site"], row["study_id"]),
        "identifiedDateTime": _time(row["created_at"]),
    }
    if any(texts):
        resource["detail"] = "; ".join(t for t in texts if t)
    evidence = [{"reference": f"QuestionnaireResponse/{pk}"} for pk in row["evidence_responses"]]
    evidence += [{"reference": f"Observation/{pk}"} for pk in row["evidence_cmax_results"]]
    if evidence:
        resource["evidence"] = [{"detail": evidence}]
    if row.get("resolved_at"):
        mitigation: dict[str, Any] = {
            "action": {
                "coding": [
                    {"system": ALERT_ACTION_SYSTEM, "code": row["action_taken"] or "resolved"}
                ],
                "text": row.get("resolution_note") or row["action_taken"] or "resolved",
            },
            "date": _time(row["resolved_at"]),
        }
        resource["mitigation"] = [mitigation]
    return resource


# --- reading the database -----------------------------------------------------------------------

RESPONSE_FIELDS = (
    "id",
    "subject_id",
    "subject__site__code",
    "subject__study_id",
    "instrument_version_id",
    "answers",
    "score",
    "valid",
    "completed_at",
)


def _response_rows(user, params) -> Iterator[tuple[dict, dict]]:
    definitions = dict(InstrumentVersion.objects.values_list("id", "definition"))
    queryset = scoped(Response.objects.all(), user, site=params.get("site")).order_by(
        "completed_at", "id"
    )
    for values in queryset.values_list(*RESPONSE_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        row = dict(zip(RESPONSE_FIELDS, values, strict=True))
        row["site"], row["study_id"] = row["subject__site__code"], row["subject__study_id"]
        yield row, definitions[row["instrument_version_id"]]


def _cmax_rows(user, params) -> Iterator[dict]:
    fields = (
        "id",
        "subject_id",
        "subject__site__code",
        "subject__study_id",
        "value",
        "unit",
        "sampled_at",
        "hours_post_dose",
        "dose_mg",
        "lab_reference",
    )
    queryset = scoped(CmaxResult.objects.all(), user, site=params.get("site")).order_by(
        "sampled_at", "id"
    )
    for values in queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        row = dict(zip(fields, values, strict=True))
        row["site"], row["study_id"] = row["subject__site__code"], row["subject__study_id"]
        yield row


def alert_row(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "subject_id": alert.subject_id,
        "site": alert.subject.site.code,
        "study_id": alert.subject.study_id,
        "category": alert.category,
        "severity": alert.severity,
        "rules": alert.rules,
        "reasons": alert.reasons,
        "created_at": alert.created_at,
        "resolved_at": alert.resolved_at,
        "action_taken": alert.action_taken,
        "resolution_note": alert.resolution_note,
        "evidence_responses": [r.pk for r in alert.evidence_responses.all()],
        "evidence_cmax_results": [c.pk for c in alert.evidence_cmax_results.all()],
    }


def iter_resources(user, resource_type: str, params: dict) -> Iterator[dict[str, Any]]:
    """Yield every resource of one type the user may see, oldest first."""
    if resource_type == "QuestionnaireResponse":
        for row, definition in _response_rows(user, params):
            yield questionnaire_response(row, definition)
    elif resource_type == "Observation":
        for row, definition in _response_rows(user, params):
            yield from score_observations(row, definition)
        for row in _cmax_rows(user, params):
            yield cmax_observation(row)
    elif resource_type == "DetectedIssue":
        alerts = (
            scoped(Alert.objects.all(), user, site=params.get("site"))
            .select_related("subject__site")
            .prefetch_related(
                Prefetch("evidence_responses", queryset=Response.objects.only("id")),
                Prefetch("evidence_cmax_results", queryset=CmaxResult.objects.only("id")),
            )
            .order_by("created_at", "id")
        )
        for alert in alerts.iterator(chunk_size=CHUNK_SIZE):
            yield alert_detected_issue(alert_row(alert))
    else:
        raise ValueError(f"unknown resource type {resource_type!r}")


def count_resources(user, resource_type: str, params: dict) -> int:
    """Return about how many resources of a type there are (for a job's progress)."""
    site = params.get("site")
    if resource_type == "QuestionnaireResponse":
        return scoped(Response.objects.all(), user, site=site).count()
    if resource_type == "Observation":
        return (
            scoped(Response.objects.all(), user, site=site).count()
            + scoped(CmaxResult.objects.all(), user, site=site).count()
        )
    return scoped(Alert.objects.all(), user, site=site).count()
