"""Monitoring profiles (admins): `GET/POST /api/v1/monitoring-profiles/`, `GET .../{id}/`.

Versions are immutable: a POST stores the next version of a drug's profile (the current version's
values with the given fields changed); there is no PATCH, PUT or DELETE.
"""

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from config.api import ApiError, Pagination
from screening.services.profiles import (
    DEFAULT_DRUG,
    PROFILE_FIELDS,
    check_recommended_actions,
    create_profile_version,
)

from ..models import MonitoringProfile
from ..permissions import IsAdmin

# The standard ceiling of each source (docs/clinical-reference.md §2): used when only the source
# changes.
CEILING_OF_SOURCE = {
    MonitoringProfile.CeilingSource.WHO_2014: Decimal("35"),
    MonitoringProfile.CeilingSource.LABEL: Decimal("30"),
}


class MonitoringProfileSerializer(serializers.ModelSerializer):
    created_by = serializers.UUIDField(
        source="created_by.staff_profile.public_id",
        read_only=True,
        allow_null=True,
        help_text="The public id of the admin who created this version.",
    )

    class Meta:
        model = MonitoringProfile
        fields: tuple[str, ...] = (
            "id",
            "drug",
            "version",
            *PROFILE_FIELDS,
            "created_by",
            "created_at",
        )
        read_only_fields = fields


class ProfileVersionSerializer(MonitoringProfileSerializer):
    evaluations_requested = serializers.IntegerField(
        read_only=True, help_text="Active subjects queued for re-evaluation under this version."
    )

    class Meta(MonitoringProfileSerializer.Meta):
        fields = (*MonitoringProfileSerializer.Meta.fields, "evaluations_requested")
        read_only_fields = fields


def bounded(low: int, high: int, help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, min_value=low, max_value=high, help_text=help_text
    )


class ProfileInputSerializer(serializers.Serializer):
    """Every field is optional: what is left out is copied from the drug's current version."""

    drug = serializers.RegexField(
        r"^[a-z][a-z0-9_-]{0,31}$", required=False, default=DEFAULT_DRUG, max_length=32
    )
    name = serializers.CharField(required=False, max_length=100)
    phq9_positive = bounded(1, 27, "PHQ-9 total of a positive screen (default 10).")
    gad7_positive = bounded(1, 21, "GAD-7 total of a positive screen (default 10).")
    phq9_severe = bounded(1, 27, "D2: PHQ-9 total (default 20).")
    d3_score = bounded(1, 27, "D3: PHQ-9 or GAD-7 total with Cmax above the ceiling (default 15).")
    neuropathy_grade_positive = bounded(1, 3, "Neuropathy symptom grade of a positive screen.")
    cmax_ceiling = serializers.DecimalField(
        required=False,
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("1"),
        max_value=Decimal("500"),
        help_text="µg/mL; a Cmax strictly above it is above the ceiling. If only the source is "
        "given, the source's ceiling is used (WHO 2014: 35, label: 30).",
    )
    cmax_ceiling_source = serializers.ChoiceField(
        required=False, choices=MonitoringProfile.CeilingSource.choices
    )
    lookback_days = bounded(1, 365, "Look-back window of PHQ-9, GAD-7, NEURO-SX (default 14).")
    bpns_window_days = bounded(1, 365, "Recency of a BPNS examination (default 28).")
    cmax_recency_days = bounded(1, 365, "Recency of a current Cmax (default 28).")
    pyridoxine_flag_mg = bounded(1, 2000, "Pyridoxine mg/day flagged (default 200).")
    escalation_minutes = bounded(
        1, 10080, "Minutes before an unacknowledged urgent alert escalates (default 30)."
    )
    high_escalation_minutes = bounded(
        1, 10080, "Minutes before an unacknowledged high alert escalates (default 240)."
    )
    recommended_actions = serializers.JSONField(
        required=False,
        help_text="Overrides of the action texts: lists (discontinuation_actions, "
        "dose_review_actions, tdm_actions, neuropathy_actions) or templates "
        "(bpns_exam_action, pyridoxine_flag_action, interaction_action, ethionamide_note, "
        "isoniazid_note, alcohol_note).",
    )

    def validate_recommended_actions(self, value):
        problems = check_recommended_actions(value)
        if problems:
            raise serializers.ValidationError(problems)
        return value

    def validate(self, attrs):
        source = attrs.get("cmax_ceiling_source")
        if source is not None and "cmax_ceiling" not in attrs:
            attrs["cmax_ceiling"] = CEILING_OF_SOURCE[source]
        return attrs


class ProfilePagination(Pagination):
    ordering = ("-created_at", "-version")


class MonitoringProfileListView(GenericAPIView):
    permission_classes = [IsAdmin]
    pagination_class = ProfilePagination
    serializer_class = MonitoringProfileSerializer
    filter_backends: list = []

    @extend_schema(
        tags=["monitoring-profiles"],
        summary="List monitoring profile versions, newest first",
        parameters=[OpenApiParameter("drug", str, description="Only this drug's versions.")],
        responses={200: MonitoringProfileSerializer(many=True)},
    )
    def get(self, request):
        queryset = MonitoringProfile.objects.select_related("created_by__staff_profile")
        drug = request.query_params.get("drug")
        if drug:
            # PostgreSQL text cannot hold a NUL, so no drug has one: match nothing, never a 500.
            queryset = queryset.filter(drug=drug) if "\x00" not in drug else queryset.none()
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(MonitoringProfileSerializer(page, many=True).data)

    @extend_schema(
        tags=["monitoring-profiles"],
        summary="Create the next version of a drug's profile; re-evaluates every active subject",
        request=ProfileInputSerializer,
        responses={
            201: ProfileVersionSerializer,
            400: OpenApiResponse(description="Invalid fields."),
            403: OpenApiResponse(description="Not an administrator."),
        },
    )
    def post(self, request):
        data = ProfileInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        drug = changes.pop("drug")
        try:
            change = create_profile_version(drug=drug, changes=changes, created_by=request.user)
        except ValueError as exc:
            raise ApiError(400, "invalid", str(exc)) from None
        body = MonitoringProfileSerializer(change.profile).data
        body["evaluations_requested"] = change.evaluations_requested
        return Response(body, status=status.HTTP_201_CREATED)


class MonitoringProfileDetailView(GenericAPIView):
    permission_classes = [IsAdmin]
    serializer_class = MonitoringProfileSerializer

    @extend_schema(
        tags=["monitoring-profiles"],
        summary="Read one monitoring profile version (versions are immutable)",
        responses={200: MonitoringProfileSerializer},
    )
    def get(self, request, profile_id):
        profile = MonitoringProfile.objects.filter(pk=profile_id).first()
        if profile is None:
            raise ApiError(404, "not_found", "No such monitoring profile.")
        return Response(MonitoringProfileSerializer(profile).data)
