"""FHIR endpoints (staff): the Bulk Data kick-off and status, and a Cmax posted as an Observation.

Errors are an OperationOutcome (``application/fhir+json``), never the JSON error shape.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, renderers, serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from config.api import ApiError
from config.parsers import FhirJSONParser, JSONParser
from notifications.exports.datasets import ExportParameterError
from notifications.exports.fhir_export import RESOURCE_TYPES, cmax_observation
from notifications.exports.fhir_in import (
    Issue,
    ObservationProblem,
    operation_outcome,
    parse_cmax_observation,
)
from notifications.exports.services import clean_parameters, queue_export
from screening.models import CmaxResult
from screening.selectors import visible_subjects
from screening.services.cmax_results import CmaxConflict, ImplausibleCmax, record_cmax_result

from ..models import ExportJob
from .exports import (
    SITE_PARAMETER,
    ExportFileSerializer,
    ExportJobSerializer,
    _parameter_error,
    visible_jobs,
)
from .formats import FHIR_JSON, FhirJSONRenderer


class FhirViewMixin(APIView):
    """FHIR endpoints answer errors with an OperationOutcome (application/fhir+json)."""

    renderer_classes = [FhirJSONRenderer, renderers.JSONRenderer]
    parser_classes = [FhirJSONParser, JSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, ObservationProblem):
            return Response(operation_outcome(exc.issues), status=exc.status)
        if isinstance(exc, ApiError):
            code = {404: "not-found", 409: "conflict", 400: "invalid"}.get(
                exc.status_code, "processing"
            )
            issues = [Issue(code, exc.message, "")]
            issues += [
                Issue("invalid", f"{field}: {message}", "")
                for field, messages in exc.fields.items()
                for message in messages
            ]
            return Response(operation_outcome(issues), status=exc.status_code)
        if isinstance(exc, exceptions.APIException):
            response = super().handle_exception(exc)
            code = {
                401: "login",
                403: "forbidden",
                404: "not-found",
                405: "not-supported",
                406: "not-supported",
                415: "not-supported",
                429: "throttled",
            }.get(response.status_code, "invalid")
            message = response.data.get("error", {}).get("message", str(exc))
            response.data = operation_outcome([Issue(code, message, "")])
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and not getattr(request, "accepted_renderer", None):
            request.accepted_renderer = FhirJSONRenderer()
            request.accepted_media_type = FHIR_JSON
        return super().finalize_response(request, response, *args, **kwargs)


class BulkManifestSerializer(serializers.Serializer):
    transactionTime = serializers.DateTimeField()  # noqa: N815 - FHIR's name
    request = serializers.CharField()
    requiresAccessToken = serializers.BooleanField()  # noqa: N815
    output = ExportFileSerializer(many=True)
    error = serializers.ListField(child=serializers.DictField())


class FhirBulkExportView(FhirViewMixin, APIView):
    """FHIR Bulk Data kick-off (system level): a job writes one NDJSON file per resource type."""

    @extend_schema(
        tags=["fhir"],
        summary="Bulk Data $export kick-off: 202 with Content-Location to poll",
        parameters=[
            OpenApiParameter(
                "_type", str, description="Comma-separated resource types (default: all three)."
            ),
            SITE_PARAMETER,
        ],
        responses={202: OpenApiResponse(description="Accepted; poll Content-Location.")},
    )
    def get(self, request):
        raw = {"site": request.query_params.get("site")}
        if request.query_params.get("_type"):
            types = [t.strip() for t in request.query_params["_type"].split(",") if t.strip()]
            unknown = [t for t in types if t not in RESOURCE_TYPES]
            if unknown:
                raise ApiError(400, "invalid", f"Unsupported _type: {', '.join(unknown)}.")
            raw["types"] = types
        try:
            params = clean_parameters(request.user, "fhir", raw)
        except ExportParameterError as exc:
            raise _parameter_error(exc) from None
        job = queue_export(
            user=request.user, dataset="fhir", fmt=ExportJob.Format.NDJSON, params=params
        )
        location = reverse("fhir-export-status", args=[job.pk], request=request)
        return Response(status=status.HTTP_202_ACCEPTED, headers={"Content-Location": location})


class FhirBulkStatusView(FhirViewMixin, APIView):
    @extend_schema(
        tags=["fhir"],
        summary="Bulk Data status: 202 with X-Progress while running, 200 with the manifest",
        responses={200: BulkManifestSerializer, 202: OpenApiResponse(description="In progress.")},
    )
    def get(self, request, job_id):
        job = visible_jobs(request.user).filter(pk=job_id, dataset="fhir").first()
        if job is None:
            raise ApiError(404, "not_found", "No such export.")
        if job.status == ExportJob.Status.FAILED:
            raise ApiError(422, "failed", f"The export failed: {job.error}")
        if job.status != ExportJob.Status.DONE:
            return Response(
                status=status.HTTP_202_ACCEPTED, headers={"X-Progress": f"{job.progress}%"}
            )
        files = ExportJobSerializer(job, context={"request": request}).data["files"]
        return Response(
            {
                "transactionTime": job.started_at.isoformat(),
                "request": reverse("fhir-export", request=request),
                "requiresAccessToken": True,
                "output": files,
                "error": [],
            }
        )


class FhirBulkExportOperationView(FhirBulkExportView):
    """The same kick-off under FHIR's operation name ``$export`` (documented as fhir/export)."""

    schema = None


class FhirBulkStatusOperationView(FhirBulkStatusView):
    schema = None


class FhirObservationView(FhirViewMixin, APIView):
    """A lab system posts a Cmax as a FHIR Observation; the same identifier twice is stored once."""

    @extend_schema(
        tags=["fhir"],
        summary="Post a Cmax as a FHIR R4 Observation (application/fhir+json)",
        description="See docs/fhir.md: code urn:cycloserine-screening:observation-codes|"
        "cycloserine-cmax, subject Patient/<subject id>, identifier = the lab's reference "
        "(idempotency key), effectiveDateTime with offset, valueQuantity in UCUM ug/mL, mg/L or "
        "umol/L, component hours-after-dose (h) and optionally dose-mg (mg). Errors are an "
        "OperationOutcome.",
        request={FHIR_JSON: OpenApiTypes.OBJECT},
        responses={
            (201, FHIR_JSON): OpenApiTypes.OBJECT,
            (200, FHIR_JSON): OpenApiResponse(
                OpenApiTypes.OBJECT, description="Same identifier and content: already stored."
            ),
            (400, FHIR_JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="OperationOutcome"),
            (404, FHIR_JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="Unknown patient"),
            (409, FHIR_JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="Identifier reused"),
        },
    )
    def post(self, request):
        data = parse_cmax_observation(request.data)
        subject = None
        try:
            subject = visible_subjects(request.user).filter(pk=data.subject_id).first()
        except Exception:  # not a UUID: answered like an unknown subject
            subject = None
        if subject is None:
            raise ObservationProblem(
                [Issue("not-found", "No such patient.", "Observation.subject")], status=404
            )
        try:
            result, created = record_cmax_result(
                subject=subject,
                value=data.value,
                unit=data.unit,
                sampled_at=data.sampled_at,
                hours_post_dose=data.hours_post_dose,
                dose_mg=data.dose_mg,
                lab_reference=data.lab_reference,
                entered_by=request.user,
            )
        except ImplausibleCmax as exc:
            where = {
                "value": "Observation.valueQuantity",
                "unit": "Observation.valueQuantity.code",
                "sampled_at": "Observation.effectiveDateTime",
                "hours_post_dose": "Observation.component",
                "dose_mg": "Observation.component",
            }
            raise ObservationProblem(
                [
                    Issue("business-rule", message, where.get(field, ""))
                    for field, messages in exc.fields.items()
                    for message in messages
                ],
                status=422,
            ) from None
        except CmaxConflict as exc:
            raise ObservationProblem(
                [
                    Issue(
                        "conflict",
                        "This identifier is already stored for the patient with a different "
                        f"{', '.join(exc.differences)}; post a correction under a new identifier.",
                        "Observation.identifier",
                    )
                ],
                status=409,
            ) from None
        stored = CmaxResult.objects.select_related("subject__site").get(pk=result.pk)
        body = cmax_observation(
            {
                "id": stored.pk,
                "subject_id": stored.subject_id,
                "site": stored.subject.site.code,
                "study_id": stored.subject.study_id,
                "value": stored.value,
                "unit": stored.unit,
                "sampled_at": stored.sampled_at,
                "hours_post_dose": stored.hours_post_dose,
                "dose_mg": stored.dose_mg,
                "lab_reference": stored.lab_reference,
            }
        )
        return Response(
            body,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": reverse("fhir-observation", request=request) + f"/{stored.pk}"},
            content_type=FHIR_JSON,
        )
