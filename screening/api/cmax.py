"""Cmax results of a subject: `POST/GET /api/v1/subjects/{id}/cmax-results/` (staff)."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from config.api import ApiError, Pagination, StrictModelSerializer, StrictSerializer
from screening.services.cmax_results import CmaxConflict, ImplausibleCmax, record_cmax_result

from ..cmax import CmaxSample, group_occasions
from ..models import CmaxResult, Subject
from ..permissions import IsStaffUser
from ..selectors import visible_subjects
from . import examples


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its UTC offset (a lab's local time is ambiguous)."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            raise serializers.ValidationError("Include a UTC offset, e.g. 2025-03-01T08:00:00Z.")
        return super().enforce_timezone(value)


class CmaxResultInputSerializer(StrictSerializer):
    value = serializers.DecimalField(max_digits=10, decimal_places=3)
    unit = serializers.ChoiceField(choices=CmaxResult.Unit.choices)
    sampled_at = AwareDateTimeField()
    hours_post_dose = serializers.DecimalField(max_digits=5, decimal_places=2)
    dose_mg = serializers.IntegerField(required=False, allow_null=True)
    lab_reference = serializers.CharField(max_length=128)


class OccasionSerializer(StrictSerializer):
    dose_at = serializers.DateTimeField(help_text="Sample time minus hours after the dose.")
    cmax_ug_per_ml = serializers.DecimalField(
        max_digits=10, decimal_places=3, help_text="The highest sample of the occasion."
    )
    cmax_result = serializers.UUIDField(help_text="The id of the highest sample.")
    samples = serializers.ListField(child=serializers.UUIDField())


class CmaxResultSerializer(StrictModelSerializer):
    subject = serializers.UUIDField(source="subject_id", read_only=True)
    entered_by = serializers.UUIDField(
        source="entered_by.staff_profile.public_id",
        read_only=True,
        allow_null=True,
        help_text="The public id of the staff user who entered it.",
    )
    occasion = serializers.SerializerMethodField(
        help_text="The monitoring occasion (same dose) this sample belongs to; its Cmax is the "
        "highest of its samples."
    )

    class Meta:
        model = CmaxResult
        fields = (
            "id",
            "subject",
            "value",
            "unit",
            "value_ug_per_ml",
            "sampled_at",
            "hours_post_dose",
            "dose_mg",
            "lab_reference",
            "entered_by",
            "created_at",
            "occasion",
        )
        read_only_fields = fields

    @extend_schema_field(OccasionSerializer(allow_null=True))
    def get_occasion(self, obj):
        return self.context.get("occasions", {}).get(str(obj.pk))


def occasions_by_result(subject: Subject) -> dict:
    """Map each of the subject's Cmax result ids to its occasion (one query)."""
    rows = CmaxResult.objects.filter(subject=subject).values_list(
        "id", "value_ug_per_ml", "sampled_at", "hours_post_dose"
    )
    samples = [
        CmaxSample(id=str(pk), value_ug_per_ml=value, sampled_at=at, hours_post_dose=hours)
        for pk, value, at, hours in rows
    ]
    mapping = {}
    for occasion in group_occasions(samples):
        data = {
            "dose_at": occasion.dose_at,
            "cmax_ug_per_ml": occasion.cmax_sample.value_ug_per_ml,
            "cmax_result": occasion.cmax_sample.id,
            "samples": [sample.id for sample in occasion.samples],
        }
        for sample in occasion.samples:
            mapping[sample.id] = OccasionSerializer(data).data
    return mapping


class CmaxPagination(Pagination):
    ordering = ("-sampled_at", "-created_at")


class SubjectCmaxResultsView(GenericAPIView):
    """Record and list a subject's Cmax results (staff of the subject's site, or an admin)."""

    permission_classes = [IsStaffUser]
    pagination_class = CmaxPagination
    serializer_class = CmaxResultSerializer
    filter_backends: list = []

    def get_subject(self) -> Subject:
        subject = visible_subjects(self.request.user).filter(pk=self.kwargs["subject_id"]).first()
        if subject is None:
            raise ApiError(404, "not_found", "No such subject.")
        return subject

    @extend_schema(
        tags=["subjects"],
        summary="List a subject's Cmax results, latest sample first, with their occasions",
        responses={200: CmaxResultSerializer(many=True)},
    )
    def get(self, request, subject_id):
        subject = self.get_subject()
        queryset = CmaxResult.objects.filter(subject=subject).select_related(
            "entered_by__staff_profile"
        )
        page = self.paginate_queryset(queryset)
        context = {**self.get_serializer_context(), "occasions": occasions_by_result(subject)}
        data = CmaxResultSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(
        tags=["subjects"],
        summary="Record a Cmax result (idempotent by lab reference); queues an evaluation",
        request=CmaxResultInputSerializer,
        examples=examples.CMAX,
        responses={
            201: CmaxResultSerializer,
            200: OpenApiResponse(
                CmaxResultSerializer, description="The same lab reference and content: stored."
            ),
            400: OpenApiResponse(description="Invalid or implausible result."),
            404: OpenApiResponse(description="No such subject, or not of your sites."),
            409: OpenApiResponse(
                description="lab_reference_conflict: the reference is stored with other content."
            ),
        },
    )
    def post(self, request, subject_id):
        subject = self.get_subject()
        data = CmaxResultInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            result, created = record_cmax_result(
                subject=subject,
                value=values["value"],
                unit=values["unit"],
                sampled_at=values["sampled_at"],
                hours_post_dose=values["hours_post_dose"],
                dose_mg=values.get("dose_mg"),
                lab_reference=values["lab_reference"],
                entered_by=request.user,
            )
        except ImplausibleCmax as exc:
            raise ApiError(
                400, "invalid", "The result is implausible: see fields.", exc.fields
            ) from None
        except CmaxConflict as exc:
            raise ApiError(
                409,
                "lab_reference_conflict",
                "This lab reference is already recorded for the subject with a different "
                f"{', '.join(exc.differences)}; record a correction under a new lab reference.",
                {"lab_reference": [f"Recorded as result {exc.existing.pk}."]},
            ) from None
        context = {**self.get_serializer_context(), "occasions": occasions_by_result(subject)}
        return Response(
            CmaxResultSerializer(result, context=context).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
