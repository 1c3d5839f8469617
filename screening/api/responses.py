"""Staff entry and listing of a subject's responses (paper forms, interviews, examinations), and
their amendments (`POST/GET /api/v1/responses/{id}/amendments/`, issue 10)."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response as ApiResponse

from config.api import ApiError, Pagination, StrictModelSerializer, StrictSerializer
from screening.services.amendments import amend_response
from screening.services.submissions import STAFF_SOURCES, SubmissionRejected, enter_staff_response

from ..models import Amendment, Response
from ..permissions import IsStaffUser
from ..selectors import visible_subjects
from . import examples


class ScoreSerializer(StrictSerializer):
    total = serializers.IntegerField(allow_null=True)
    band = serializers.CharField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())
    prorated = serializers.BooleanField()
    valid = serializers.BooleanField()
    grade = serializers.IntegerField(allow_null=True)
    case = serializers.BooleanField(allow_null=True)
    invalid_reason = serializers.CharField(allow_null=True)


class AmendmentSerializer(StrictModelSerializer):
    response = serializers.UUIDField(source="response_id", read_only=True)
    score = ScoreSerializer()
    previous_score = ScoreSerializer()
    amended_by = serializers.UUIDField(
        source="amended_by.staff_profile.public_id",
        read_only=True,
        allow_null=True,
        help_text="The public id of the staff user who amended it.",
    )

    class Meta:
        model = Amendment
        fields = [
            "id",
            "response",
            "answers",
            "score",
            "valid",
            "previous_answers",
            "previous_score",
            "reason",
            "amended_by",
            "created_at",
        ]
        read_only_fields = fields


class ResponseSerializer(StrictModelSerializer):
    """A response as received (``answers``, ``score``, ``valid``: never changed) and as it
    stands (``current_*``: the latest amendment's, or the original's), with its amendments."""

    instrument = serializers.CharField(source="instrument_code")
    version = serializers.IntegerField(source="instrument_version.version")
    answers = serializers.JSONField()
    score = ScoreSerializer()
    assessment = serializers.UUIDField(source="assessment_id", allow_null=True)
    entered_by = serializers.UUIDField(
        source="entered_by.staff_profile.public_id",
        read_only=True,
        allow_null=True,
        help_text="The public id of the staff user who entered it.",
    )

    class Meta:
        model = Response
        fields = [
            "id",
            "instrument",
            "version",
            "answers",
            "started_at",
            "completed_at",
            "received_at",
            "source",
            "language",
            "valid",
            "score",
            "assessment",
            "entered_by",
            "current_answers",
            "current_score",
            "current_valid",
            "amendments",
        ]

    def latest_amendment(self, obj):
        amendments = list(obj.amendments.all())  # prefetched, oldest first
        return amendments[-1] if amendments else None

    @extend_schema_field(serializers.JSONField())
    def get_current_answers(self, obj):
        latest = self.latest_amendment(obj)
        return latest.answers if latest is not None else obj.answers

    @extend_schema_field(ScoreSerializer())
    def get_current_score(self, obj):
        latest = self.latest_amendment(obj)
        return ScoreSerializer(latest.score if latest is not None else obj.score).data

    @extend_schema_field(serializers.BooleanField())
    def get_current_valid(self, obj) -> bool:
        latest = self.latest_amendment(obj)
        return latest.valid if latest is not None else obj.valid

    current_answers = serializers.SerializerMethodField()
    current_score = serializers.SerializerMethodField()
    current_valid = serializers.SerializerMethodField()
    amendments = AmendmentSerializer(many=True, read_only=True)


def with_amendments(queryset):
    """Prefetch each response's amendments (oldest first) with their authors (one query)."""
    return queryset.prefetch_related(
        Prefetch(
            "amendments",
            queryset=Amendment.objects.select_related("amended_by__staff_profile").order_by(
                "created_at", "id"
            ),
        )
    )


class StaffEntrySerializer(StrictSerializer):
    instrument = serializers.CharField(max_length=32, help_text="PHQ-9, GAD-7, NEURO-SX or BPNS.")
    answers = serializers.JSONField(help_text="Item code -> value; missing items allowed.")
    completed_at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=[source.value for source in STAFF_SOURCES])  # type: ignore[assignment]  # a field named like Field.source


class ResponsePagination(Pagination):
    ordering = ("-completed_at", "-received_at")


class SubjectResponsesView(generics.ListAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = ResponseSerializer
    pagination_class = ResponsePagination

    def get_subject(self):
        return get_object_or_404(visible_subjects(self.request.user), pk=self.kwargs["subject_id"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Response.objects.none()
        return with_amendments(
            Response.objects.filter(subject=self.get_subject()).select_related(
                "instrument_version", "entered_by__staff_profile"
            )
        )

    @extend_schema(
        tags=["responses"],
        summary="List a subject's responses with their scores, newest first",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["responses"],
        summary="Enter a paper form, an interview or a BPNS examination for a subject",
        description=(
            "Missing items follow the instrument's missing-data rule: PHQ-9 prorates one or two "
            "missing items and is invalid with more; GAD-7, NEURO-SX and BPNS are invalid with "
            "any missing item. An invalid form is stored (`valid` false) with its flags. `BPNS` "
            "(a clinician instrument) is entered with source `examination`, and `examination` "
            "is only for clinician instruments. `completed_at` may not be in the future."
        ),
        request=StaffEntrySerializer,
        examples=examples.STAFF_RESPONSE,
        responses={201: ResponseSerializer},
    )
    def post(self, request, *args, **kwargs):
        subject = self.get_subject()
        data = StaffEntrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            response = enter_staff_response(
                subject=subject,
                instrument_code=values["instrument"],
                answers=values["answers"],
                completed_at=values["completed_at"],
                source=values["source"],
                entered_by=request.user,
            )
        except SubmissionRejected as rejected:
            raise ApiError(400, rejected.code, rejected.message, rejected.fields) from None
        return ApiResponse(ResponseSerializer(response).data, status=status.HTTP_201_CREATED)


class AmendmentInputSerializer(StrictSerializer):
    answers = serializers.JSONField(
        help_text="The changed items only: item code -> new value (null makes it unanswered)."
    )
    reason = serializers.CharField(max_length=2000, help_text="Why the answers are amended.")


class ResponseAmendmentsView(generics.GenericAPIView):
    """Amend a response, or list its amendments (staff of the subject's site, or an admin)."""

    permission_classes = [IsStaffUser]
    serializer_class = AmendmentSerializer
    pagination_class = None
    filter_backends: list = []

    def get_response(self) -> Response:
        response = (
            Response.objects.filter(
                pk=self.kwargs["response_id"],
                subject__in=visible_subjects(self.request.user),
            )
            .select_related("subject", "instrument_version")
            .first()
        )
        if response is None:
            raise ApiError(404, "not_found", "No such response.")
        return response

    @extend_schema(
        tags=["responses"],
        summary="List a response's amendments, oldest first",
        responses={200: AmendmentSerializer(many=True)},
    )
    def get(self, request, response_id):
        response = self.get_response()
        amendments = response.amendments.select_related("amended_by__staff_profile").order_by(
            "created_at", "id"
        )
        return ApiResponse(AmendmentSerializer(amendments, many=True).data)

    @extend_schema(
        tags=["responses"],
        summary="Amend a response's answers (reason required); re-scored and re-evaluated",
        description=(
            "The response as received stays unchanged and readable; the amendment holds the "
            "full current answers (the previous ones with the given items changed), scored "
            "afresh under the response's instrument version. The subject is re-evaluated, and "
            "an open alert whose evidence was amended says so."
        ),
        request=AmendmentInputSerializer,
        examples=examples.AMENDMENT,
        responses={
            201: ResponseSerializer,
            400: OpenApiResponse(description="No reason, or invalid answers."),
            404: OpenApiResponse(description="No such response, or not of your sites."),
        },
    )
    def post(self, request, response_id):
        response = self.get_response()
        data = AmendmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            amend_response(
                response=response,
                changes=data.validated_data["answers"],
                reason=data.validated_data["reason"],
                amended_by=request.user,
            )
        except SubmissionRejected as rejected:
            raise ApiError(400, rejected.code, rejected.message, rejected.fields) from None
        response = (
            with_amendments(Response.objects.filter(pk=response.pk))
            .select_related("instrument_version", "entered_by__staff_profile")
            .get()
        )
        return ApiResponse(ResponseSerializer(response).data, status=status.HTTP_201_CREATED)
