"""The subject's own phone: activation, `me`, open assessments, submission, logout."""

import re

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from config.api import ApiError, Pagination
from questionnaires.definitions import localise
from questionnaires.models import InstrumentVersion
from screening.services.activation import ActivationFailed, ActivationRateLimited, activate
from screening.services.submissions import (
    AssessmentNotFound,
    SubmissionRejected,
    hash_request,
    submit_phone_response,
)

from ..models import Assessment
from ..permissions import IsSubject

INVALID_CODE_MESSAGE = "This activation code is not valid. Ask your clinic for a new code."
# Printable ASCII, as a UUID or any client-chosen token would be; at most 128 characters.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
REJECTION_STATUS = {"invalid": 400, "conflict": 409, "key_reused": 422}


class ActivationThrottle(AnonRateThrottle):
    """Every activation attempt per client address (scope ``activation``), failed or not."""

    scope = "activation"


class ActivationRequestSerializer(serializers.Serializer):
    code = serializers.CharField(trim_whitespace=True)


class SubjectSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    study_id = serializers.CharField()
    language = serializers.CharField()
    timezone = serializers.CharField()


class ActivationResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    subject = SubjectSummarySerializer()


class ActivateView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ActivationThrottle]

    @extend_schema(
        tags=["subject phone"],
        summary="Exchange a one-time activation code for the subject's token",
        description=(
            "A wrong, used, expired or superseded code gets the same 400 "
            "(`invalid_code`); repeated failures from one client or against one subject get "
            "429 for a while."
        ),
        request=ActivationRequestSerializer,
        responses={200: ActivationResponseSerializer},
        auth=[],
    )
    def post(self, request):
        data = ActivationRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client = ActivationThrottle().get_ident(request) or "unknown"
        try:
            result = activate(code=data.validated_data["code"], client=client)
        except ActivationRateLimited:
            raise ApiError(
                429, "throttled", "Too many failed activation attempts; try again later."
            ) from None
        except ActivationFailed:
            raise ApiError(400, "invalid_code", INVALID_CODE_MESSAGE) from None
        subject = result.subject
        body = {
            "token": result.key,
            "subject": {
                "id": str(subject.pk),
                "study_id": subject.study_id,
                "language": subject.language,
                "timezone": subject.timezone,
            },
        }
        return Response(body, status=status.HTTP_200_OK)


class SiteSummarySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    study_id = serializers.CharField()
    language = serializers.CharField()
    timezone = serializers.CharField()
    site = SiteSummarySerializer()


class MeView(APIView):
    permission_classes = [IsSubject]

    @extend_schema(
        tags=["subject phone"],
        summary="The subject this phone belongs to",
        responses={200: MeSerializer},
    )
    def get(self, request):
        subject = request.user.subject
        return Response(MeSerializer(subject).data)


class LogoutView(APIView):
    permission_classes = [IsSubject]

    @extend_schema(
        tags=["subject phone"],
        summary="Revoke this phone's token",
        request=None,
        responses={204: None},
    )
    def post(self, request):
        request.auth.revoke()
        return Response(status=status.HTTP_204_NO_CONTENT)


class OptionSerializer(serializers.Serializer):
    value = serializers.JSONField(help_text="An integer or a string.")
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label


class ItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()
    type = serializers.ChoiceField(choices=["choice", "integer"])
    options = OptionSerializer(many=True, required=False)
    min = serializers.IntegerField(required=False)
    max = serializers.IntegerField(required=False)
    required = serializers.BooleanField()  # type: ignore[assignment]  # a field, not Field.required
    scored = serializers.BooleanField()


class LocalisedInstrumentSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=["self_report", "clinician"])
    preamble = serializers.CharField()
    recall_period = serializers.CharField(allow_null=True)
    language = serializers.CharField(help_text="The language served (English fills any gaps).")
    items = ItemSerializer(many=True)


class OpenAssessmentSerializer(serializers.ModelSerializer):
    instrument = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = ["id", "status", "opens_at", "closes_at", "instrument"]

    @extend_schema_field(LocalisedInstrumentSerializer)
    def get_instrument(self, assessment) -> dict | None:
        return self.context["instruments"].get(assessment.instrument_code)


class AssessmentPagination(Pagination):
    ordering = ("closes_at", "id")


def open_assessments(subject, now):
    """The subject's assessments that can be answered now (see ``submissions._check_open``).

    An assessment still ``scheduled`` whose window has begun is included: the sweep that marks
    it open may lag by a tick, and a subject must never be turned away from an open window.
    """
    return Assessment.objects.filter(
        subject=subject,
        status__in=[Assessment.Status.SCHEDULED, Assessment.Status.OPEN],
        opens_at__lte=now,
        closes_at__gt=now,
    )


def localised_instruments(codes, language: str) -> dict[str, dict]:
    """Return the current version of each instrument code, localised, in one query."""
    current: dict[str, InstrumentVersion] = {}
    for version in InstrumentVersion.objects.filter(code__in=set(codes)).order_by(
        "code", "-version"
    ):
        current.setdefault(version.code, version)
    rendered = {}
    for code, version in current.items():
        shape, served = localise(version.definition, language)
        rendered[code] = {**shape, "language": served}
    return rendered


class MyAssessmentsView(generics.ListAPIView):
    permission_classes = [IsSubject]
    pagination_class = AssessmentPagination
    serializer_class = OpenAssessmentSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assessment.objects.none()
        return open_assessments(self.request.user.subject, timezone.now())  # type: ignore[union-attr]

    @extend_schema(
        tags=["subject phone"],
        summary="The subject's open assessments, each with its instrument in their language",
    )
    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        instruments = localised_instruments(
            [assessment.instrument_code for assessment in page or []], request.user.subject.language
        )
        serializer = OpenAssessmentSerializer(page, many=True, context={"instruments": instruments})
        return self.get_paginated_response(serializer.data)


class SubmissionSerializer(serializers.Serializer):
    answers = serializers.JSONField(help_text="Item code -> value; every scored item required.")
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    completed_at = serializers.DateTimeField(required=False, allow_null=True)


class SubmissionResponseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["completed"])
    support_message = serializers.CharField(
        required=False, help_text="Crisis contacts, after a PHQ-9 item 9 answer of 1 or more."
    )


class SubmitResponseView(APIView):
    permission_classes = [IsSubject]

    @extend_schema(
        tags=["subject phone"],
        summary="Submit the answers to one open assessment, exactly once",
        description=(
            "Send an `Idempotency-Key` (1-128 printable ASCII characters). The same key and body "
            "again get the same status and body; the same key with another body gets 422 "
            "(`idempotency_key_reused`); a second submission for an answered assessment 409 "
            "(`already_answered`); a closed window 409 (`window_closed`), a future one 409 "
            "(`not_open`); bad answers 400 with one entry per item under `answers.<item>`."
        ),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True
            )
        ],
        request=SubmissionSerializer,
        responses={201: SubmissionResponseSerializer},
    )
    def post(self, request, assessment_id):
        key = request.headers.get("Idempotency-Key")
        if key is None or not IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(
                400,
                "invalid",
                "An Idempotency-Key header is required.",
                {"Idempotency-Key": ["Required: 1 to 128 printable ASCII characters."]},
            )
        data = SubmissionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            reply = submit_phone_response(
                subject=request.user.subject,
                assessment_id=assessment_id,
                answers=values["answers"],
                started_at=values.get("started_at"),
                completed_at=values.get("completed_at"),
                idempotency_key=key,
                request_hash=hash_request(assessment_id=assessment_id, body=request.data),
            )
        except AssessmentNotFound:
            raise ApiError(404, "not_found", "No such assessment.") from None
        except SubmissionRejected as rejected:
            raise ApiError(
                REJECTION_STATUS[rejected.kind], rejected.code, rejected.message, rejected.fields
            ) from None
        # The stored text itself, so that a replay is byte for byte the first answer.
        return HttpResponse(reply.body, status=reply.status, content_type="application/json")
