"""Staff entry and listing of a subject's responses (paper forms, interviews, examinations)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response as ApiResponse

from config.api import ApiError, Pagination
from screening.services.submissions import STAFF_SOURCES, SubmissionRejected, enter_staff_response

from ..models import Response
from ..permissions import IsStaffUser
from ..selectors import visible_subjects


class ScoreSerializer(serializers.Serializer):
    total = serializers.IntegerField(allow_null=True)
    band = serializers.CharField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())
    prorated = serializers.BooleanField()
    valid = serializers.BooleanField()
    grade = serializers.IntegerField(allow_null=True)
    case = serializers.BooleanField(allow_null=True)
    invalid_reason = serializers.CharField(allow_null=True)


class ResponseSerializer(serializers.ModelSerializer):
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
        ]


class StaffEntrySerializer(serializers.Serializer):
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
        return Response.objects.filter(subject=self.get_subject()).select_related(
            "instrument_version", "entered_by__staff_profile"
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
