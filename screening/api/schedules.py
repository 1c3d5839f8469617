"""Screening schedules: configured by admins, readable by the staff of the schedule's site."""

from datetime import date

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, Pagination
from questionnaires.models import InstrumentVersion
from screening import occurrences
from screening.services import assessments, schedules

from ..models import Schedule, ScheduleEntry, Site
from ..models.schedules import entry_timing_errors
from ..permissions import IsAdminForWrites
from ..selectors import visible_schedules
from .admin_api import validate_timezone_name


def instrument_codes() -> set[str]:
    return set(InstrumentVersion.objects.values_list("code", flat=True).distinct())


class EntrySerializer(serializers.Serializer):
    id = serializers.UUIDField(
        required=False, help_text="Keep (and change) this current entry; omit for a new one."
    )
    instrument = serializers.CharField(source="instrument_code", max_length=32)
    offset_days = serializers.IntegerField(min_value=0, max_value=occurrences.MAX_DAY)
    repeat_every_days = serializers.IntegerField(
        min_value=1, max_value=occurrences.MAX_DAY, required=False, allow_null=True, default=None
    )
    until_day = serializers.IntegerField(
        min_value=0, max_value=occurrences.MAX_DAY, required=False, allow_null=True, default=None
    )
    time_of_day = serializers.TimeField(format="%H:%M")
    window_hours = serializers.IntegerField(min_value=1, max_value=24 * 60)
    reminder_hours = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=24 * 60),
        required=False,
        default=list,
        max_length=10,
    )

    def validate_instrument(self, value):
        if value not in self.context["instrument_codes"]:
            raise serializers.ValidationError("Unknown instrument.")
        return value

    def validate(self, attrs):
        errors = entry_timing_errors(
            offset_days=attrs["offset_days"],
            repeat_every_days=attrs["repeat_every_days"],
            until_day=attrs["until_day"],
            window_hours=attrs["window_hours"],
            reminder_hours=attrs["reminder_hours"],
            max_day=occurrences.MAX_DAY,
        )
        if errors:
            raise serializers.ValidationError(errors)
        if attrs["repeat_every_days"] is None and attrs["until_day"] is not None:
            attrs["until_day"] = None  # meaningless without a repeat
        return attrs


class EntryOutSerializer(serializers.ModelSerializer):
    instrument = serializers.CharField(source="instrument_code")
    time_of_day = serializers.TimeField(format="%H:%M")

    class Meta:
        model = ScheduleEntry
        fields = [
            "id",
            "instrument",
            "offset_days",
            "repeat_every_days",
            "until_day",
            "time_of_day",
            "window_hours",
            "reminder_hours",
        ]


class ScheduleSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", default=None)
    entries = EntryOutSerializer(source="current_entries", many=True)

    class Meta:
        model = Schedule
        fields = ["id", "name", "site", "is_default", "entries", "created_at", "updated_at"]


class ScheduleCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    site = serializers.SlugField(max_length=32)
    is_default = serializers.BooleanField(default=False)
    entries = EntrySerializer(many=True, allow_empty=False, max_length=50)  # type: ignore[call-arg]  # ListSerializer takes max_length

    def validate_site(self, value):
        site = Site.objects.filter(code=value).first()
        if site is None:
            raise serializers.ValidationError("Unknown site.")
        return site


class ScheduleUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    is_default = serializers.BooleanField(required=False)
    entries = EntrySerializer(many=True, allow_empty=False, max_length=50, required=False)  # type: ignore[call-arg]  # ListSerializer takes max_length


def schedules_with_entries(queryset):
    return queryset.select_related("site").prefetch_related(
        Prefetch(
            "entries",
            queryset=ScheduleEntry.objects.filter(retired_at__isnull=True),
            to_attr="current_entries",
        )
    )


class SchedulePagination(Pagination):
    ordering = ("name", "id")


class ScheduleListCreateView(ListAPIView):
    permission_classes = [IsAdminForWrites]
    serializer_class = ScheduleSerializer
    pagination_class = SchedulePagination
    filter_backends: list = []

    def get_queryset(self):
        return schedules_with_entries(visible_schedules(self.request.user))

    @extend_schema(tags=["schedules"], summary="List schedules (of your sites; all for admins)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["schedules"],
        summary="Create a schedule (admin)",
        request=ScheduleCreateSerializer,
        responses={201: ScheduleSerializer},
    )
    def post(self, request, *args, **kwargs):
        data = ScheduleCreateSerializer(
            data=request.data, context={"instrument_codes": instrument_codes()}
        )
        data.is_valid(raise_exception=True)
        values = data.validated_data
        entries = [dict(e) for e in values["entries"]]
        if any("id" in e for e in entries):
            raise ApiError(
                400, "invalid", "New schedules have no entry ids.", {"entries": ["No ids."]}
            )
        schedule = schedules.create_schedule(
            name=values["name"],
            site=values["site"],
            is_default=values["is_default"],
            entries=entries,
            actor=request.user,
        )
        schedule = schedules_with_entries(Schedule.objects).get(pk=schedule.pk)
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleDetailView(APIView):
    permission_classes = [IsAdminForWrites]

    def get_schedule(self, request, pk):
        return get_object_or_404(schedules_with_entries(visible_schedules(request.user)), pk=pk)

    @extend_schema(tags=["schedules"], summary="Show a schedule", responses=ScheduleSerializer)
    def get(self, request, pk):
        return Response(ScheduleSerializer(self.get_schedule(request, pk)).data)

    @extend_schema(
        tags=["schedules"],
        summary="Change a schedule (admin); only assessments not opened yet follow",
        request=ScheduleUpdateSerializer,
        responses=ScheduleSerializer,
    )
    def patch(self, request, pk):
        schedule = self.get_schedule(request, pk)
        data = ScheduleUpdateSerializer(
            data=request.data, context={"instrument_codes": instrument_codes()}
        )
        data.is_valid(raise_exception=True)
        values = data.validated_data
        entries = values.get("entries")
        try:
            schedules.update_schedule(
                schedule=schedule,
                name=values.get("name"),
                is_default=values.get("is_default"),
                entries=[dict(e) for e in entries] if entries is not None else None,
                actor=request.user,
            )
        except schedules.ScheduleEntryUnknown:
            raise ApiError(
                400,
                "invalid",
                "An entry id is not a current entry of this schedule, or is listed twice.",
                {"entries": ["Unknown or repeated entry id."]},
            ) from None
        schedule = schedules_with_entries(Schedule.objects).get(pk=schedule.pk)
        return Response(ScheduleSerializer(schedule).data)


class PreviewQuerySerializer(serializers.Serializer):
    treatment_start = serializers.DateField()
    timezone = serializers.CharField(max_length=64, validators=[validate_timezone_name])  # type: ignore[list-item]  # DRF ignores a validator's return value

    def validate_treatment_start(self, value: date) -> date:
        if not date(1900, 1, 1) <= value <= date(2200, 1, 1):
            raise serializers.ValidationError("Out of range.")
        return value


class OccurrenceSerializer(serializers.Serializer):
    entry = serializers.UUIDField(source="entry_key")
    instrument = serializers.CharField(source="instrument_code")
    occurrence = serializers.IntegerField()
    day = serializers.IntegerField()
    local_date = serializers.DateField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()


class SchedulePreviewView(APIView):
    permission_classes = [IsAdminForWrites]

    @extend_schema(
        tags=["schedules"],
        summary="The occurrences the schedule would create for a treatment start and time zone",
        parameters=[
            OpenApiParameter("treatment_start", OpenApiTypes.DATE, required=True),
            OpenApiParameter("timezone", OpenApiTypes.STR, required=True),
        ],
        responses=inline_serializer(
            "SchedulePreview",
            {
                "treatment_start": serializers.DateField(),
                "timezone": serializers.CharField(),
                "occurrences": OccurrenceSerializer(many=True),
            },
        ),
    )
    def get(self, request, pk):
        schedule = get_object_or_404(visible_schedules(request.user), pk=pk)
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        planned = occurrences.occurrences(
            [assessments.entry_spec(e) for e in schedule.entries.filter(retired_at__isnull=True)],
            treatment_start=values["treatment_start"],
            tz_name=values["timezone"],
        )
        return Response(
            {
                "treatment_start": values["treatment_start"].isoformat(),
                "timezone": values["timezone"],
                "occurrences": OccurrenceSerializer(planned, many=True).data,
            }
        )
