"""Instrument definitions for phones and dashboards, and as FHIR R4 Questionnaires."""

from collections.abc import Sequence
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from config.api import ApiError, ErrorSerializer, Pagination

from ..definitions import FALLBACK_LANGUAGE, localise
from ..fhir import to_fhir_questionnaire
from ..models import InstrumentVersion
from ..selectors import current_versions, find_version
from .serializers import (
    INSTRUMENT_CODE,
    InstrumentQuerySerializer,
    InstrumentSerializer,
    InstrumentVersionQuerySerializer,
)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="A query parameter is invalid."),
    401: OpenApiResponse(ErrorSerializer, description="No or an invalid bearer token."),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such instrument or version.")}
CODE_PARAMETER = OpenApiParameter(
    "code", OpenApiTypes.STR, OpenApiParameter.PATH, description="PHQ-9, GAD-7, NEURO-SX or BPNS."
)
CONTENT_LANGUAGE = OpenApiParameter(
    "Content-Language",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    description="The language served (the list: every language served, comma-separated).",
)


class FhirJsonRenderer(JSONRenderer):
    """JSON under the FHIR media type (the default unless the client asks for application/json)."""

    media_type = "application/fhir+json"
    format = "fhir"


class InstrumentPagination(Pagination):
    ordering = "code"


def requested_language(request, value: str | None) -> str:
    """Return the language asked for: the query parameter, else the subject's, else English."""
    if value:
        return value
    # A subject's phone token authenticates as an object with a `.subject` (screening app).
    subject = getattr(request.user, "subject", None)
    return getattr(subject, "language", None) or FALLBACK_LANGUAGE


def render_instrument(instrument: InstrumentVersion, language: str) -> dict:
    """Return one stored version in the API's shape, in a language, with the language served."""
    rendered, served = localise(instrument.definition, language)
    return {**rendered, "language": served}


class InstrumentViewMixin:
    """Validate the query parameters and look up the instrument of the URL."""

    # Staff and subjects' phones alike read instruments.
    permission_classes: Sequence[Any] = [IsAuthenticated]
    query_serializer_class: type[serializers.Serializer] = InstrumentVersionQuerySerializer

    def read_query(self, request) -> dict:
        query = self.query_serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data

    def get_instrument(self, code: str, version: int | None) -> InstrumentVersion:
        # Screen the code first: odd input (NUL bytes, kilobytes) is a 404, never a 500, and is
        # not echoed back.
        if not INSTRUMENT_CODE.fullmatch(code):
            raise ApiError(404, "not_found", "No such instrument.")
        found = find_version(code=code, version=version)
        if found is None:
            if version is None:
                raise ApiError(404, "not_found", f"No instrument {code}.")
            raise ApiError(404, "not_found", f"No version {version} of instrument {code}.")
        return found


class InstrumentListView(InstrumentViewMixin, GenericAPIView):
    """The current version of every instrument, ordered by code, in the language asked for."""

    queryset = InstrumentVersion.objects.none()
    serializer_class = InstrumentSerializer
    pagination_class = InstrumentPagination
    filter_backends: list = []
    query_serializer_class = InstrumentQuerySerializer

    def get_queryset(self):
        return current_versions()

    @extend_schema(
        tags=["instruments"],
        summary="List the current version of every instrument",
        parameters=[InstrumentQuerySerializer, CONTENT_LANGUAGE],
        responses={
            200: InstrumentSerializer(many=True),
            **ERRORS,
            404: OpenApiResponse(ErrorSerializer, description="An invalid cursor."),
        },
    )
    def get(self, request):
        language = requested_language(request, self.read_query(request).get("language"))
        page = self.paginate_queryset(self.get_queryset())
        data = [render_instrument(instrument, language) for instrument in page or []]
        response = self.get_paginated_response(InstrumentSerializer(data, many=True).data)
        served = sorted({entry["language"] for entry in data}) or [language]
        response["Content-Language"] = ", ".join(served)
        return response


class InstrumentDetailView(InstrumentViewMixin, GenericAPIView):
    """One instrument in the language asked for; English fills any text a translation lacks."""

    serializer_class = InstrumentSerializer

    @extend_schema(
        tags=["instruments"],
        summary="Get an instrument: the current version, or an older one with ?version=",
        parameters=[CODE_PARAMETER, InstrumentVersionQuerySerializer, CONTENT_LANGUAGE],
        responses={
            200: OpenApiResponse(InstrumentSerializer, description="The instrument."),
            **ERRORS,
            **NOT_FOUND,
        },
    )
    def get(self, request, code: str):
        query = self.read_query(request)
        instrument = self.get_instrument(code, query.get("version"))
        data = render_instrument(instrument, requested_language(request, query.get("language")))
        response = Response(InstrumentSerializer(data).data)
        response["Content-Language"] = data["language"]
        return response


class InstrumentFhirView(InstrumentViewMixin, GenericAPIView):
    """One instrument as a FHIR R4 Questionnaire (JSON, `application/fhir+json` by default)."""

    renderer_classes = [FhirJsonRenderer, JSONRenderer]

    def handle_exception(self, exc):
        # Errors keep the contract's plain JSON whatever FHIR media type was negotiated.
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(
        tags=["instruments"],
        summary="Get an instrument as a FHIR R4 Questionnaire (LOINC codes, ordinal values)",
        description=(
            "A FHIR R4 `Questionnaire` resource. Scored answer options carry the "
            "`ordinalValue` extension equal to the value a response stores and scoring sums."
        ),
        parameters=[CODE_PARAMETER, InstrumentVersionQuerySerializer, CONTENT_LANGUAGE],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4 Questionnaire."),
            **ERRORS,
            **NOT_FOUND,
        },
    )
    def get(self, request, code: str):
        query = self.read_query(request)
        instrument = self.get_instrument(code, query.get("version"))
        language = requested_language(request, query.get("language"))
        resource = to_fhir_questionnaire(instrument.definition, language)
        response = Response(resource)
        response["Content-Language"] = resource["language"]
        return response
