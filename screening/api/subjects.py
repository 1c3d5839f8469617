"""Subjects for staff: enrolment, details, withdrawal, regimen changes and assessments.

A clinician or coordinator sees only the subjects of their sites; anything else answers 404.
Contact details are write-only: responses say whether they are present, never what they are.
"""

from datetime import date
from typing import Any

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, Pagination
from screening.services import enrolment

from ..models import Assessment, RegimenChange, Schedule, Site, Subject
from ..permissions import IsStaffUser
from ..selectors import untranslated_instruments, visible_sites, visible_subjects
from .admin_api import validate_timezone_name

LANGUAGE_RE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?\Z"


class ContactSerializer(serializers.Serializer):
    email = serializers.EmailField(
        max_length=254, required=False, allow_blank=True, allow_null=True
    )
    phone = serializers.RegexField(
        r"^\+?[0-9][0-9 ()-]{4,30}\Z",
        max_length=32,
        required=False,
        allow_blank=True,
        allow_null=True,
    )


class RegimenSerializer(serializers.Serializer):
    drug = serializers.ChoiceField(choices=RegimenChange.Drug.choices)
    dose_mg_per_day = serializers.IntegerField(min_value=1, max_value=5000)
    pyridoxine_mg_per_day = serializers.IntegerField(
        min_value=0, max_value=5000, required=False, allow_null=True, default=None
    )
    isoniazid = serializers.BooleanField(default=False)
    ethionamide = serializers.BooleanField(default=False)
    alcohol_use = serializers.BooleanField(default=False)


class RegimenChangeCreateSerializer(RegimenSerializer):
    effective_from = serializers.DateTimeField()


class RegimenChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = RegimenChange
        fields = [
            "id",
            "effective_from",
            "drug",
            "dose_mg_per_day",
            "pyridoxine_mg_per_day",
            "isoniazid",
            "ethionamide",
            "alcohol_use",
            "created_at",
        ]


def validate_treatment_start(value: date) -> date:
    if not date(1990, 1, 1) <= value <= date(2100, 1, 1):
        raise serializers.ValidationError("Out of range.")
    return value


class SubjectFieldsSerializer(serializers.Serializer):
    """Fields shared by enrolment and PATCH."""

    study_id = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}\Z", max_length=64)
    treatment_start = serializers.DateField(validators=[validate_treatment_start])  # type: ignore[list-item]  # DRF ignores a validator's return value
    timezone = serializers.CharField(max_length=64, validators=[validate_timezone_name])  # type: ignore[list-item]  # DRF ignores a validator's return value
    language = serializers.RegexField(LANGUAGE_RE, max_length=16)
    schedule = serializers.UUIDField(required=False, allow_null=True)
    sex = serializers.ChoiceField(choices=Subject.Sex.choices, required=False, allow_blank=True)
    year_of_birth = serializers.IntegerField(
        min_value=1900, max_value=2100, required=False, allow_null=True
    )
    hiv_positive = serializers.BooleanField(required=False, allow_null=True)
    renal_impairment = serializers.BooleanField(required=False, allow_null=True)
    contact = ContactSerializer(required=False, write_only=True)


class SubjectCreateSerializer(SubjectFieldsSerializer):
    site = serializers.SlugField(max_length=32)
    regimen = RegimenSerializer(required=False)


class SubjectUpdateSerializer(SubjectFieldsSerializer):
    def validate(self, attrs):
        forbidden = {"site", "status", "regimen"} & set(self.initial_data)
        if forbidden:
            raise serializers.ValidationError(
                {
                    field: ["Cannot be changed here (see withdraw and regimen-changes)."]
                    for field in sorted(forbidden)
                }
            )
        return attrs


class SubjectSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code")
    schedule = serializers.UUIDField(source="schedule_id", allow_null=True)
    has_contact_email = serializers.BooleanField()
    has_contact_phone = serializers.BooleanField()

    class Meta:
        model = Subject
        fields = [
            "id",
            "study_id",
            "site",
            "status",
            "timezone",
            "language",
            "treatment_start",
            "schedule",
            "sex",
            "year_of_birth",
            "hiv_positive",
            "renal_impairment",
            "has_contact_email",
            "has_contact_phone",
            "withdrawn_at",
            "created_at",
            "updated_at",
        ]


class EnrolledSubjectSerializer(SubjectSerializer):
    untranslated_instruments = serializers.SerializerMethodField(
        help_text=(
            "Instruments of the subject's schedule with no translation in their language: the "
            "subject's pages show them in English."
        )
    )

    class Meta(SubjectSerializer.Meta):
        fields = [*SubjectSerializer.Meta.fields, "untranslated_instruments"]

    def get_untranslated_instruments(self, subject) -> list[str]:
        return untranslated_instruments(subject)


class AssessmentSerializer(serializers.ModelSerializer):
    instrument = serializers.CharField(source="instrument_code")
    schedule_entry = serializers.UUIDField(source="schedule_entry_id")
    response = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = [
            "id",
            "instrument",
            "schedule_entry",
            "occurrence",
            "opens_at",
            "closes_at",
            "status",
            "response",
        ]

    def get_response(self, assessment) -> str | None:
        try:
            return str(assessment.response.pk)
        except Assessment.response.RelatedObjectDoesNotExist:
            return None


class SubjectFilter(django_filters.FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    status = django_filters.ChoiceFilter(choices=Subject.Status.choices)

    class Meta:
        model = Subject
        fields = ["site", "status"]


class SubjectPagination(Pagination):
    ordering = ("-created_at", "id")


def resolve_schedule(schedule_id, site: Site) -> Schedule | None:
    """Return the schedule with this id if it belongs to the site (or to no site), else 400."""
    if schedule_id is None:
        return None
    schedule = Schedule.objects.filter(pk=schedule_id).first()
    if schedule is None or schedule.site_id not in (None, site.pk):
        raise ApiError(
            400, "invalid", "Unknown schedule for this site.", {"schedule": ["Unknown schedule."]}
        )
    return schedule


def duplicate_study_id() -> ApiError:
    return ApiError(
        409, "conflict", "This study id is already used at the site.", {"study_id": ["Taken."]}
    )


@extend_schema_view(
    get=extend_schema(tags=["subjects"], summary="List the subjects of your sites"),
)
class SubjectListCreateView(generics.ListAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = SubjectSerializer
    pagination_class = SubjectPagination
    filterset_class = SubjectFilter

    def get_queryset(self):
        return visible_subjects(self.request.user).select_related("site")

    @extend_schema(
        tags=["subjects"],
        summary="Enrol a subject; its assessments are created at once",
        request=SubjectCreateSerializer,
        responses={201: EnrolledSubjectSerializer},
    )
    def post(self, request, *args, **kwargs):
        data = SubjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        site = visible_sites(request.user).filter(code=values["site"]).first()
        if site is None:
            raise ApiError(400, "invalid", "Unknown site.", {"site": ["Unknown site."]})
        schedule = resolve_schedule(values.get("schedule"), site)
        contact = values.get("contact") or {}
        try:
            subject = enrolment.enrol_subject(
                site=site,
                study_id=values["study_id"],
                treatment_start=values["treatment_start"],
                timezone_name=values["timezone"],
                language=values["language"],
                schedule=schedule,
                sex=values.get("sex") or "",
                year_of_birth=values.get("year_of_birth"),
                hiv_positive=values.get("hiv_positive"),
                renal_impairment=values.get("renal_impairment"),
                contact_email=contact.get("email") or "",
                contact_phone=contact.get("phone") or "",
                regimen=dict(values["regimen"]) if values.get("regimen") else None,
                actor=request.user,
            )
        except enrolment.DuplicateStudyId:
            raise duplicate_study_id() from None
        subject = Subject.objects.select_related("site", "schedule").get(pk=subject.pk)
        return Response(EnrolledSubjectSerializer(subject).data, status=status.HTTP_201_CREATED)


def get_visible_subject(request, pk) -> Subject:
    return get_object_or_404(visible_subjects(request.user).select_related("site"), pk=pk)


class SubjectDetailView(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(tags=["subjects"], summary="Show a subject", responses=SubjectSerializer)
    def get(self, request, pk):
        return Response(SubjectSerializer(get_visible_subject(request, pk)).data)

    @extend_schema(
        tags=["subjects"],
        summary="Change a subject's details (audited)",
        request=SubjectUpdateSerializer,
        responses=SubjectSerializer,
    )
    def patch(self, request, pk):
        subject = get_visible_subject(request, pk)
        data = SubjectUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        contact = values.pop("contact", None)
        extra: dict[str, Any] = {}
        if "schedule" in values:
            extra["schedule"] = resolve_schedule(values.pop("schedule"), subject.site)
        if "sex" in values:
            values["sex"] = values["sex"] or ""
        try:
            enrolment.update_subject(
                subject=subject, fields=values, contact=contact, actor=request.user, **extra
            )
        except enrolment.DuplicateStudyId:
            raise duplicate_study_id() from None
        return Response(SubjectSerializer(get_visible_subject(request, pk)).data)


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class SubjectWithdrawView(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(
        tags=["subjects"],
        summary="Withdraw a subject: cancel its future assessments, keep all its data",
        request=WithdrawSerializer,
        responses=SubjectSerializer,
    )
    def post(self, request, pk):
        subject = get_visible_subject(request, pk)
        data = WithdrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            enrolment.withdraw_subject(
                subject=subject, reason=data.validated_data["reason"], actor=request.user
            )
        except enrolment.AlreadyWithdrawn:
            raise ApiError(409, "conflict", "The subject is already withdrawn.") from None
        return Response(SubjectSerializer(get_visible_subject(request, pk)).data)


class RegimenPagination(Pagination):
    ordering = ("-effective_from", "id")


class SubjectRegimenChangesView(generics.ListAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = RegimenChangeSerializer
    pagination_class = RegimenPagination
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RegimenChange.objects.none()
        subject = get_visible_subject(self.request, self.kwargs["pk"])
        return RegimenChange.objects.filter(subject=subject)

    @extend_schema(tags=["subjects"], summary="List a subject's regimen changes, latest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["subjects"],
        summary="Record a regimen change (audited; queues an evaluation)",
        request=RegimenChangeCreateSerializer,
        responses={201: RegimenChangeSerializer},
    )
    def post(self, request, pk):
        subject = get_visible_subject(request, pk)
        data = RegimenChangeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        change = enrolment.record_regimen_change(
            subject=subject, actor=request.user, **data.validated_data
        )
        return Response(RegimenChangeSerializer(change).data, status=status.HTTP_201_CREATED)


class AssessmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Assessment.Status.choices)

    class Meta:
        model = Assessment
        fields = ["status"]


class AssessmentPagination(Pagination):
    ordering = ("opens_at", "id")


class SubjectAssessmentsView(generics.ListAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = AssessmentSerializer
    pagination_class = AssessmentPagination
    filterset_class = AssessmentFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assessment.objects.none()
        subject = get_visible_subject(self.request, self.kwargs["pk"])
        return Assessment.objects.filter(subject=subject).select_related("response")

    @extend_schema(tags=["subjects"], summary="List a subject's assessments, earliest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
