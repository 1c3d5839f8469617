"""Cmax results of a subject (staff): `POST/GET /api/v1/subjects/{id}/cmax-results/`, and
`POST .../cmax-results/{result_id}/void/` and `.../correct/` (issue 10, reason required)."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from config.api import ApiError, Pagination, StrictModelSerializer, StrictSerializer
from screening.services.cmax_results import (
    CmaxAlreadyVoided,
    CmaxConflict,
    ImplausibleCmax,
    correct_cmax_result,
    record_cmax_result,
    void_cmax_result,
)
from screening.services.profiles import DEFAULT_DRUG, current_profile, thresholds_for

from ..cmax import CmaxSample, group_occasions, is_peak
from ..models import CmaxResult, RegimenChange, Subject
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
        "highest of its samples. Null for a voided sample or one outside the peak window."
    )
    is_peak = serializers.SerializerMethodField(
        help_text="Whether the sample lies in the profile's peak window and counts towards Cmax."
    )
    not_peak_reason = serializers.SerializerMethodField(
        help_text="Why the sample is not used as a Cmax (outside the peak window), else null."
    )
    voided_by = serializers.UUIDField(
        source="voided_by.staff_profile.public_id", read_only=True, allow_null=True
    )
    corrects = serializers.UUIDField(source="corrects_id", read_only=True, allow_null=True)

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
            "is_peak",
            "not_peak_reason",
            "voided_at",
            "voided_by",
            "void_reason",
            "corrects",
        )
        read_only_fields = fields

    @extend_schema_field(OccasionSerializer(allow_null=True))
    def get_occasion(self, obj):
        return self.context.get("occasions", {}).get(str(obj.pk))

    @extend_schema_field(serializers.BooleanField())
    def get_is_peak(self, obj) -> bool:
        return is_peak(obj.hours_post_dose, self.context.get("peak_window"))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_not_peak_reason(self, obj):
        window = self.context.get("peak_window")
        if is_peak(obj.hours_post_dose, window):
            return None
        assert window is not None  # is_peak() is True without a window
        low, high = window
        return (
            f"Sampled {obj.hours_post_dose} h after the dose, outside the peak window "
            f"{low}–{high} h: stored and shown, never used as the Cmax."
        )


def peak_window_of(subject: Subject):
    """Return the peak window of the profile that applies to the subject (its regimen's drug)."""
    drug = (
        RegimenChange.objects.filter(subject=subject)
        .order_by("-effective_from", "-created_at")
        .values_list("drug", flat=True)
        .first()
    )
    return thresholds_for(current_profile(drug or DEFAULT_DRUG)).peak_window


def result_context(view, subject: Subject) -> dict:
    """Return the serializer context of a subject's results: occasions and the peak window."""
    window = peak_window_of(subject)
    return {
        **view.get_serializer_context(),
        "occasions": occasions_by_result(subject, window),
        "peak_window": window,
    }


def occasions_by_result(subject: Subject, peak_window=None) -> dict:
    """Map each of the subject's valid peak-window Cmax result ids to its occasion (one query).

    Voided results and samples outside the peak window belong to no occasion (issue 10).
    """
    rows = CmaxResult.objects.filter(subject=subject, voided_at__isnull=True).values_list(
        "id", "value_ug_per_ml", "sampled_at", "hours_post_dose"
    )
    samples = [
        CmaxSample(id=str(pk), value_ug_per_ml=value, sampled_at=at, hours_post_dose=hours)
        for pk, value, at, hours in rows
        if is_peak(hours, peak_window)
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
            "entered_by__staff_profile", "voided_by__staff_profile"
        )
        page = self.paginate_queryset(queryset)
        context = result_context(self, subject)
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
                f"{', '.join(exc.differences)}; correct it with POST "
                f".../cmax-results/{exc.existing.pk}/correct/ (a reason is required).",
                {"lab_reference": [f"Recorded as result {exc.existing.pk}."]},
            ) from None
        context = result_context(self, subject)
        return Response(
            CmaxResultSerializer(result, context=context).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class VoidInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the result is withdrawn.")


class CorrectionInputSerializer(StrictSerializer):
    value = serializers.DecimalField(max_digits=10, decimal_places=3)
    unit = serializers.ChoiceField(choices=CmaxResult.Unit.choices)
    sampled_at = AwareDateTimeField(required=False, help_text="Default: the original's.")
    hours_post_dose = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, help_text="Default: the original's."
    )
    reason = serializers.CharField(max_length=2000, help_text="Why the value is corrected.")


class CmaxResultChangeView(GenericAPIView):
    """Base of void and correct: the result of a visible subject, else 404."""

    permission_classes = [IsStaffUser]
    serializer_class = CmaxResultSerializer
    filter_backends: list = []

    def get_result(self) -> tuple[Subject, CmaxResult]:
        subject = visible_subjects(self.request.user).filter(pk=self.kwargs["subject_id"]).first()
        result = (
            CmaxResult.objects.filter(subject=subject, pk=self.kwargs["result_id"]).first()
            if subject is not None
            else None
        )
        if subject is None or result is None:
            raise ApiError(404, "not_found", "No such Cmax result.")
        return subject, result

    def reply(self, subject: Subject, result: CmaxResult, code: int) -> Response:
        result = CmaxResult.objects.select_related(
            "entered_by__staff_profile", "voided_by__staff_profile"
        ).get(pk=result.pk)
        return Response(
            CmaxResultSerializer(result, context=result_context(self, subject)).data, status=code
        )


def already_voided() -> ApiError:
    return ApiError(
        409, "already_voided", "This result is voided already; act on its correction instead."
    )


class CmaxResultVoidView(CmaxResultChangeView):
    @extend_schema(
        tags=["subjects"],
        summary="Void a Cmax result (reason required); it is kept and shown, never used again",
        request=VoidInputSerializer,
        examples=examples.CMAX_VOID,
        responses={
            200: CmaxResultSerializer,
            400: OpenApiResponse(description="No reason."),
            404: OpenApiResponse(description="No such result, or not of your sites."),
            409: OpenApiResponse(description="already_voided."),
        },
    )
    def post(self, request, subject_id, result_id):
        subject, result = self.get_result()
        data = VoidInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = void_cmax_result(
                subject=subject,
                result_id=result.pk,
                reason=data.validated_data["reason"],
                voided_by=request.user,
            )
        except CmaxAlreadyVoided:
            raise already_voided() from None
        return self.reply(subject, result, status.HTTP_200_OK)


class CmaxResultCorrectView(CmaxResultChangeView):
    @extend_schema(
        tags=["subjects"],
        summary="Correct a Cmax result's value and unit (reason required): the original is "
        "voided and a corrected result stored under the same lab reference",
        request=CorrectionInputSerializer,
        examples=examples.CMAX_CORRECTION,
        responses={
            201: CmaxResultSerializer,
            400: OpenApiResponse(description="No reason, or an implausible value."),
            404: OpenApiResponse(description="No such result, or not of your sites."),
            409: OpenApiResponse(description="already_voided."),
        },
    )
    def post(self, request, subject_id, result_id):
        subject, result = self.get_result()
        data = CorrectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            corrected = correct_cmax_result(
                subject=subject,
                result_id=result.pk,
                value=values["value"],
                unit=values["unit"],
                sampled_at=values.get("sampled_at"),
                hours_post_dose=values.get("hours_post_dose"),
                reason=values["reason"],
                corrected_by=request.user,
            )
        except CmaxAlreadyVoided:
            raise already_voided() from None
        except ImplausibleCmax as exc:
            raise ApiError(
                400, "invalid", "The result is implausible: see fields.", exc.fields
            ) from None
        return self.reply(subject, corrected, status.HTTP_201_CREATED)
