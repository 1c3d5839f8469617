"""Research exports (staff): CSV datasets, the data dictionary, export jobs, FHIR NDJSON files and
the missed-data report (the FHIR operations are in ``fhir.py``).

Admins export every site; other staff only their sites' subjects. Every export is audited.
"""

from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import renderers, serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from config.api import ApiError, ErrorSerializer
from notifications.exports.datasets import DATASETS, ExportParameterError, all_columns
from notifications.exports.dictionary import DICTIONARY_HEADER, dictionary_rows
from notifications.exports.fhir_export import RESOURCE_TYPES, iter_resources
from notifications.exports.missed import missed_report
from notifications.exports.services import (
    audit_export,
    clean_parameters,
    export_dir,
    queue_export,
    stream_dataset_csv,
    stream_ndjson,
)
from screening.selectors import is_admin

from ..models import ExportJob
from .formats import (
    FHIR_NDJSON,
    CSVRenderer,
    JsonErrorsMixin,
    NDJSONRenderer,
)


def _parameter_error(exc: ExportParameterError) -> ApiError:
    return ApiError(400, "invalid", "The export parameters are invalid: see fields.", exc.fields)


SITE_PARAMETER = OpenApiParameter("site", str, description="Only this site (a site code).")


class DatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    parameters = serializers.ListField(child=serializers.CharField())
    url = serializers.CharField(help_text="GET it with `Accept: text/csv`.")


class ExportListView(APIView):
    """The datasets that can be exported."""

    @extend_schema(
        tags=["exports"],
        summary="List the exportable datasets",
        responses={200: DatasetSerializer(many=True)},
    )
    def get(self, request):
        return Response(
            [
                {
                    "name": d.name,
                    "description": d.description,
                    "parameters": list(d.parameters),
                    "url": reverse("export-dataset", args=[d.name], request=request),
                }
                for d in DATASETS.values()
            ]
        )


class DictionaryEntrySerializer(serializers.Serializer):
    dataset = serializers.CharField()
    column = serializers.CharField()
    type = serializers.CharField()
    unit = serializers.CharField()
    allowed_values = serializers.CharField()
    meaning = serializers.CharField()


class DictionaryView(JsonErrorsMixin, APIView):
    """The data dictionary of every dataset, generated from the instruments and models."""

    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        tags=["exports"],
        summary="The data dictionary (JSON, or CSV with `Accept: text/csv` or `?format=csv`)",
        responses={
            (200, "application/json"): DictionaryEntrySerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request):
        rows = dictionary_rows(all_columns())
        assert not rows or list(rows[0]) == DICTIONARY_HEADER
        return Response(rows)


class DatasetExportView(JsonErrorsMixin, APIView):
    """One dataset as CSV, streamed (flat memory whatever the size); audited."""

    renderer_classes = [CSVRenderer, renderers.JSONRenderer]

    @extend_schema(
        tags=["exports"],
        summary="Export a dataset as CSV, streamed",
        description="Datasets: " + ", ".join(DATASETS) + ". Admins see every site; other staff "
        "their sites' subjects only. Each export is recorded in the audit trail (who, what, "
        "when, how many rows).",
        parameters=[
            SITE_PARAMETER,
            OpenApiParameter("instrument", str, description="responses: one instrument code."),
            OpenApiParameter(
                "endpoint",
                str,
                description="time-to-event: phq9, gad7, neuropathy, bpns_case, "
                "discontinuation or any (default).",
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            400: OpenApiResponse(ErrorSerializer, description="Invalid parameters."),
            404: OpenApiResponse(ErrorSerializer, description="No such dataset."),
        },
    )
    def get(self, request, dataset):
        if dataset not in DATASETS:
            raise ApiError(404, "not_found", "No such dataset.")
        try:
            params = clean_parameters(request.user, dataset, request.query_params)
            chunks = stream_dataset_csv(request.user, dataset, params)
            first = next(chunks)  # parameters are checked before the first byte is sent
        except ExportParameterError as exc:
            raise _parameter_error(exc) from None

        def stream():
            yield first
            yield from chunks

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{dataset}.csv"'
        return response


class FhirNdjsonView(JsonErrorsMixin, APIView):
    """Every resource of one type as FHIR NDJSON, streamed; audited."""

    renderer_classes = [NDJSONRenderer, renderers.JSONRenderer]

    @extend_schema(
        tags=["fhir"],
        summary="Export one FHIR resource type as NDJSON (QuestionnaireResponse, Observation, "
        "DetectedIssue)",
        parameters=[SITE_PARAMETER],
        responses={(200, FHIR_NDJSON): OpenApiTypes.STR, 404: ErrorSerializer},
    )
    def get(self, request, resource_type):
        if resource_type not in RESOURCE_TYPES:
            raise ApiError(404, "not_found", "No such resource type.")
        try:
            params = clean_parameters(request.user, "fhir", request.query_params)
        except ExportParameterError as exc:
            raise _parameter_error(exc) from None
        params.pop("types", None)
        resources = iter_resources(request.user, resource_type, params)
        response = StreamingHttpResponse(
            stream_ndjson(request.user, f"fhir:{resource_type}", resources, params),
            content_type=FHIR_NDJSON,
        )
        response["Content-Disposition"] = f'attachment; filename="{resource_type}.ndjson"'
        return response


# --- jobs ---------------------------------------------------------------------------------------


class ExportFileSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="Dataset, or FHIR resource type.")
    url = serializers.CharField()
    count = serializers.IntegerField(help_text="Rows or resources in the file.")


class ExportJobSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(read_only=True, help_text="Percent done, 0-100.")
    files = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = (
            "id",
            "dataset",
            "format",
            "parameters",
            "status",
            "progress",
            "rows_total",
            "rows_written",
            "files",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields

    @extend_schema_field(ExportFileSerializer(many=True))
    def get_files(self, job) -> list[dict]:
        request = self.context.get("request")
        return [
            {
                "type": f["type"],
                "url": reverse("export-job-file", args=[job.pk, f["name"]], request=request),
                "count": f["rows"],
            }
            for f in job.files
        ]


class ExportJobInputSerializer(serializers.Serializer):
    dataset = serializers.ChoiceField(choices=[*DATASETS, "fhir"])
    site = serializers.CharField(required=False)
    instrument = serializers.CharField(required=False)
    endpoint = serializers.CharField(required=False)
    types = serializers.ListField(
        child=serializers.ChoiceField(choices=RESOURCE_TYPES), required=False, allow_empty=False
    )


def visible_jobs(user):
    jobs = ExportJob.objects.all()
    return jobs if is_admin(user) else jobs.filter(requested_by=user)


def _job(request, job_id) -> ExportJob:
    job = visible_jobs(request.user).filter(pk=job_id).first()
    if job is None:
        raise ApiError(404, "not_found", "No such export job.")
    return job


class ExportJobListView(APIView):
    """Queue a long export as a job; the worker writes its files under VAR_DIR/exports/."""

    @extend_schema(
        tags=["exports"],
        summary="Queue an export job (CSV dataset, or `fhir` for Bulk Data NDJSON)",
        request=ExportJobInputSerializer,
        responses={202: ExportJobSerializer, 400: ErrorSerializer},
    )
    def post(self, request):
        data = ExportJobInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        dataset = values.pop("dataset")
        try:
            params = clean_parameters(request.user, dataset, values)
            if dataset == "time-to-event":
                DATASETS[dataset].queryset(request.user, params)  # checks the endpoint
        except ExportParameterError as exc:
            raise _parameter_error(exc) from None
        fmt = ExportJob.Format.NDJSON if dataset == "fhir" else ExportJob.Format.CSV
        job = queue_export(user=request.user, dataset=dataset, fmt=fmt, params=params)
        body = ExportJobSerializer(job, context={"request": request}).data
        return Response(
            body,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("export-job", args=[job.pk], request=request)},
        )

    @extend_schema(
        tags=["exports"],
        summary="List your export jobs (admins: all), newest first",
        responses={200: ExportJobSerializer(many=True)},
    )
    def get(self, request):
        jobs = visible_jobs(request.user)[:100]
        return Response(ExportJobSerializer(jobs, many=True, context={"request": request}).data)


class ExportJobDetailView(APIView):
    @extend_schema(
        tags=["exports"],
        summary="An export job's status and progress (poll it); its files when done",
        responses={200: ExportJobSerializer, 404: ErrorSerializer},
    )
    def get(self, request, job_id):
        return Response(
            ExportJobSerializer(_job(request, job_id), context={"request": request}).data
        )


class ExportJobFileView(JsonErrorsMixin, APIView):
    renderer_classes = [renderers.JSONRenderer, CSVRenderer, NDJSONRenderer]

    @extend_schema(
        tags=["exports"],
        summary="Download a file of a finished export job",
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, FHIR_NDJSON): OpenApiTypes.STR,
            404: ErrorSerializer,
        },
    )
    def get(self, request, job_id, name):
        job = _job(request, job_id)
        names = {f["name"] for f in job.files}
        if job.status != ExportJob.Status.DONE or name not in names:
            raise ApiError(404, "not_found", "No such file (is the job done?).")
        path = export_dir() / str(job.pk) / name
        if not path.is_file():
            raise ApiError(404, "not_found", "The file is no longer on the server.")
        content_type = "text/csv; charset=utf-8" if name.endswith(".csv") else FHIR_NDJSON
        return FileResponse(
            open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,
            filename=name,
            content_type=content_type,
        )


# --- the missed-data report ---------------------------------------------------------------------


class MissedRowSerializer(serializers.Serializer):
    site = serializers.CharField()
    instrument = serializers.CharField()
    scheduled = serializers.IntegerField(help_text="Not cancelled, window opened.")
    completed = serializers.IntegerField()
    missed = serializers.IntegerField()
    open = serializers.IntegerField()
    upcoming = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    missed_fraction = serializers.FloatField(
        allow_null=True, help_text="missed / (completed + missed)"
    )


class MissedSubjectSerializer(serializers.Serializer):
    subject_id = serializers.UUIDField()
    site = serializers.CharField()
    study_id = serializers.CharField()
    instrument = serializers.CharField()
    longest_missed_run = serializers.IntegerField()
    current_missed_run = serializers.IntegerField()


class MissedReportSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    by_site_and_instrument = MissedRowSerializer(many=True)
    subjects_with_consecutive_missed = MissedSubjectSerializer(many=True)


class MissedReportView(APIView):
    @extend_schema(
        tags=["exports"],
        summary="Missed-data report: per site and instrument, and subjects with >= 2 "
        "consecutive missed assessments",
        parameters=[SITE_PARAMETER],
        responses={200: MissedReportSerializer, 400: ErrorSerializer},
    )
    def get(self, request):
        try:
            params = clean_parameters(request.user, "assessments", request.query_params)
        except ExportParameterError as exc:
            raise _parameter_error(exc) from None
        report = missed_report(request.user, site=params.get("site"))
        audit_export(
            user=request.user,
            what="missed-assessments",
            params=params,
            rows=len(report["by_site_and_instrument"])
            + len(report["subjects_with_consecutive_missed"]),
            complete=True,
            fmt="json",
        )
        return Response(report)
