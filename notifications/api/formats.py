"""Media types of the export and FHIR endpoints: CSV, FHIR JSON and NDJSON renderers, and errors
that stay the contract's JSON whatever format was asked for."""

from __future__ import annotations

import json

from rest_framework import renderers
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.exports.csvstream import csv_chunks

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"


class CSVRenderer(renderers.BaseRenderer):
    """text/csv: a list of dicts (the dictionary) as CSV; streaming views bypass it."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, list) and data and isinstance(data[0], dict):
            header = list(data[0])
            return "".join(csv_chunks(header, ([row[k] for k in header] for row in data)))
        return json.dumps(data)


class NDJSONRenderer(renderers.BaseRenderer):
    media_type = FHIR_NDJSON
    format = "ndjson"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data)


class FhirJSONRenderer(renderers.JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


class JsonErrorsMixin(APIView):
    """Errors are always the contract's JSON, whatever format the client asked for."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)
