"""A Cmax posted as a FHIR R4 Observation: read it into plain values, or say what is wrong (pure).

Accepted (docs/fhir.md "Posting a Cmax"):
- ``resourceType`` Observation, ``status`` final, amended or corrected;
- ``code``: a coding ``urn:cycloserine-screening:observation-codes|cycloserine-cmax``;
- ``subject.reference``: ``Patient/<subject id>``;
- ``identifier``: the lab's reference, the idempotency key (stored as ``lab_reference``). Its
  ``value`` alone when the system is absent or ``urn:cycloserine-screening:lab-reference``, else
  ``system|value``;
- ``effectiveDateTime`` with a UTC offset (the sample time);
- ``valueQuantity`` with UCUM system and code ``ug/mL``, ``mg/L`` or ``umol/L``;
- ``component`` ``hours-after-dose`` (UCUM ``h``, required) and ``dose-mg`` (UCUM ``mg``,
  optional), both coded in the local observation code system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from questionnaires.fhir import LOCAL_OBSERVATION_SYSTEM

from .fhir_export import (
    CMAX_CODE,
    DOSE_CODE,
    HOURS_AFTER_DOSE_CODE,
    LAB_REFERENCE_SYSTEM,
    UCUM_SYSTEM,
    UCUM_UNITS,
)

ACCEPTED_STATUSES = ("final", "amended", "corrected")
MAX_REFERENCE_LENGTH = 128


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: an issue-type code, a diagnostic and a FHIRPath expression."""

    code: str
    diagnostics: str
    expression: str


class ObservationProblem(ValueError):
    """The Observation cannot be stored; ``issues`` says why, and ``status`` the HTTP status."""

    def __init__(self, issues: list[Issue], status: int = 400):
        self.issues = issues
        self.status = status
        super().__init__("; ".join(issue.diagnostics for issue in issues))


@dataclass(frozen=True)
class CmaxInput:
    subject_id: str
    lab_reference: str
    value: Decimal
    unit: str
    sampled_at: datetime
    hours_post_dose: Decimal
    dose_mg: int | None


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """Return an OperationOutcome resource listing the issues."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": issue.code,
                "diagnostics": issue.diagnostics,
                **({"expression": [issue.expression]} if issue.expression else {}),
            }
            for issue in issues
        ],
    }


def _codes(concept: Any) -> set[tuple[Any, Any]]:
    if not isinstance(concept, dict):
        return set()
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return set()
    return {
        (c.get("system"), c.get("code"))
        for c in codings
        if isinstance(c, dict) and isinstance(c.get("code"), str)
    }


def _quantity(value: Any, where: str, units: dict[str, str], issues: list[Issue]):
    """Return (Decimal value, unit) of a UCUM Quantity, or None after recording an issue."""
    if not isinstance(value, dict):
        issues.append(Issue("required", "A Quantity is required.", where))
        return None
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float | str):
        issues.append(Issue("value", "The quantity needs a numeric value.", f"{where}.value"))
        return None
    try:
        amount = Decimal(str(number))
    except InvalidOperation:
        issues.append(Issue("value", "The quantity needs a numeric value.", f"{where}.value"))
        return None
    if not amount.is_finite():
        issues.append(Issue("value", "The quantity must be finite.", f"{where}.value"))
        return None
    code = value.get("code")
    if value.get("system") != UCUM_SYSTEM or code not in units:
        issues.append(
            Issue(
                "code-invalid",
                f"The unit must be UCUM ({UCUM_SYSTEM}) with code one of {', '.join(units)}.",
                f"{where}.code",
            )
        )
        return None
    return amount, units[code]


def parse_cmax_observation(resource: Any) -> CmaxInput:
    """Return the Cmax of a posted Observation, or raise ``ObservationProblem``."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        raise ObservationProblem(
            [Issue("structure", "The body must be a FHIR Observation resource.", "")]
        )
    issues: list[Issue] = []
    if resource.get("status") not in ACCEPTED_STATUSES:
        issues.append(
            Issue(
                "value",
                f"status must be one of {', '.join(ACCEPTED_STATUSES)} (a measured result).",
                "Observation.status",
            )
        )
    if (LOCAL_OBSERVATION_SYSTEM, CMAX_CODE) not in _codes(resource.get("code")):
        issues.append(
            Issue(
                "code-invalid",
                f"code must include {LOCAL_OBSERVATION_SYSTEM}|{CMAX_CODE} (cycloserine Cmax).",
                "Observation.code",
            )
        )
    subject_id = None
    reference = (
        (resource.get("subject") or {}).get("reference")
        if isinstance(resource.get("subject"), dict)
        else None
    )
    if isinstance(reference, str) and reference.startswith("Patient/") and len(reference) > 8:
        subject_id = reference[len("Patient/") :]
    else:
        issues.append(
            Issue(
                "required", "subject.reference must be Patient/<subject id>.", "Observation.subject"
            )
        )
    lab_reference = None
    identifiers = resource.get("identifier")
    if isinstance(identifiers, list):
        for identifier in identifiers:
            if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
                value = identifier["value"].strip()
                system = identifier.get("system")
                if not value:
                    continue
                lab_reference = (
                    value if system in (None, LAB_REFERENCE_SYSTEM) else f"{system}|{value}"
                )
                break
    if lab_reference is None:
        issues.append(
            Issue(
                "required",
                "An identifier with a value (the lab's reference) is required: it makes posting "
                "the same result twice safe.",
                "Observation.identifier",
            )
        )
    elif len(lab_reference) > MAX_REFERENCE_LENGTH:
        issues.append(
            Issue(
                "value",
                f"The identifier (system|value) is longer than {MAX_REFERENCE_LENGTH} characters.",
                "Observation.identifier",
            )
        )
    sampled_at = None
    effective = resource.get("effectiveDateTime")
    if not isinstance(effective, str):
        issues.append(
            Issue(
                "required",
                "effectiveDateTime (the sample time) is required.",
                "Observation.effectiveDateTime",
            )
        )
    else:
        try:
            sampled_at = datetime.fromisoformat(effective.replace("Z", "+00:00"))
        except ValueError:
            issues.append(
                Issue(
                    "value",
                    "effectiveDateTime is not a date-time.",
                    "Observation.effectiveDateTime",
                )
            )
        else:
            if sampled_at.tzinfo is None or sampled_at.utcoffset() is None or "T" not in effective:
                issues.append(
                    Issue(
                        "value",
                        "effectiveDateTime must be a time of day with a UTC offset.",
                        "Observation.effectiveDateTime",
                    )
                )
                sampled_at = None
    measured = _quantity(
        resource.get("valueQuantity"), "Observation.valueQuantity", UCUM_UNITS, issues
    )
    hours = dose = None
    components = resource.get("component")
    found_hours = False
    for index, component in enumerate(components if isinstance(components, list) else []):
        if not isinstance(component, dict):
            continue
        codes = _codes(component.get("code"))
        where = f"Observation.component[{index}].valueQuantity"
        if (LOCAL_OBSERVATION_SYSTEM, HOURS_AFTER_DOSE_CODE) in codes:
            found_hours = True
            parsed = _quantity(component.get("valueQuantity"), where, {"h": "h"}, issues)
            hours = parsed[0] if parsed else None
        elif (LOCAL_OBSERVATION_SYSTEM, DOSE_CODE) in codes:
            parsed = _quantity(component.get("valueQuantity"), where, {"mg": "mg"}, issues)
            if parsed:
                if parsed[0] != parsed[0].to_integral_value():
                    issues.append(Issue("value", "The dose is a whole number of mg.", where))
                else:
                    dose = int(parsed[0])
    if not found_hours:
        issues.append(
            Issue(
                "required",
                f"A component {LOCAL_OBSERVATION_SYSTEM}|{HOURS_AFTER_DOSE_CODE} (UCUM h) is "
                "required: a Cmax needs the hours from the dose to the sample.",
                "Observation.component",
            )
        )
    for amount, places, digits, where in (
        (measured[0] if measured else None, 3, 10, "Observation.valueQuantity.value"),
        (hours, 2, 5, "Observation.component.valueQuantity.value"),
    ):
        if amount is not None and (
            -amount.as_tuple().exponent > places
            or len(amount.quantize(Decimal(1).scaleb(-places)).as_tuple().digits) > digits
        ):
            issues.append(
                Issue("value", f"At most {places} decimals and {digits} digits in all.", where)
            )
    if issues:
        raise ObservationProblem(issues)
    # No issue means every part was read.
    assert subject_id is not None and lab_reference is not None and sampled_at is not None
    assert measured is not None and hours is not None
    return CmaxInput(
        subject_id=subject_id,
        lab_reference=lab_reference,
        value=measured[0],
        unit=measured[1],
        sampled_at=sampled_at,
        hours_post_dose=hours,
        dose_mg=dose,
    )
