from django.urls import path

from . import exports, fhir
from .alerts import AcknowledgeView, AlertDetailView, AlertListView, ResolveView
from .channels import urlpatterns as channel_urls

urlpatterns = [
    path("alerts/", AlertListView.as_view(), name="alerts"),
    path("alerts/<uuid:alert_id>/", AlertDetailView.as_view(), name="alert"),
    path(
        "alerts/<uuid:alert_id>/acknowledge/", AcknowledgeView.as_view(), name="alert-acknowledge"
    ),
    path("alerts/<uuid:alert_id>/resolve/", ResolveView.as_view(), name="alert-resolve"),
    *channel_urls,
    # Research exports
    path("exports/", exports.ExportListView.as_view(), name="exports"),
    path("exports/dictionary/", exports.DictionaryView.as_view(), name="export-dictionary"),
    path("exports/jobs/", exports.ExportJobListView.as_view(), name="export-jobs"),
    path("exports/jobs/<uuid:job_id>/", exports.ExportJobDetailView.as_view(), name="export-job"),
    path(
        "exports/jobs/<uuid:job_id>/files/<str:name>",
        exports.ExportJobFileView.as_view(),
        name="export-job-file",
    ),
    path(
        "exports/fhir/<str:resource_type>.ndjson",
        exports.FhirNdjsonView.as_view(),
        name="export-fhir-ndjson",
    ),
    path("exports/<slug:dataset>/", exports.DatasetExportView.as_view(), name="export-dataset"),
    path(
        "reports/missed-assessments/",
        exports.MissedReportView.as_view(),
        name="report-missed-assessments",
    ),
    # FHIR
    # Bulk Data kick-off: FHIR's `$export`, and the same without the `$` (as the schema shows it).
    path("fhir/$export", fhir.FhirBulkExportOperationView.as_view(), name="fhir-export"),
    path("fhir/export", fhir.FhirBulkExportView.as_view(), name="fhir-export-plain"),
    path(
        "fhir/$export-status/<uuid:job_id>",
        fhir.FhirBulkStatusOperationView.as_view(),
        name="fhir-export-status",
    ),
    path(
        "fhir/export-status/<uuid:job_id>",
        fhir.FhirBulkStatusView.as_view(),
        name="fhir-export-status-plain",
    ),
    path("fhir/Observation", fhir.FhirObservationView.as_view(), name="fhir-observation"),
]
