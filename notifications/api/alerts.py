"""Alerts (staff): list, detail with deliveries, acknowledge, resolve (docs/api.md "Alerts")."""

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from config.api import ApiError, Pagination
from notifications.alerts import AlertConflict, AlertForbidden, acknowledge_alert, resolve_alert
from screening.models import CmaxResult, Subject
from screening.models import Response as ScreenResponse
from screening.permissions import IsStaffUser
from screening.selectors import is_admin, visible_subjects

from ..models import Alert, Delivery


def visible_alerts(user) -> QuerySet[Alert]:
    """Alerts of the subjects the user may see (admins: all); anything else answers 404."""
    alerts = Alert.objects.all()
    if not is_admin(user):
        alerts = alerts.filter(subject__in=visible_subjects(user))
    return alerts.select_related(
        "subject__site",
        "profile",
        "acknowledged_by__staff_profile",
        "resolved_by__staff_profile",
    ).prefetch_related(
        Prefetch("evidence_responses", queryset=ScreenResponse.objects.only("id")),
        Prefetch("evidence_cmax_results", queryset=CmaxResult.objects.only("id")),
    )


class UserRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The staff user's public id.")
    username = serializers.CharField()


class AlertSubjectSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", help_text="The site's code.")

    class Meta:
        model = Subject
        fields = ("id", "study_id", "site")


class ReasonSerializer(serializers.Serializer):
    rule = serializers.CharField()
    text = serializers.CharField()
    inputs = serializers.DictField(help_text="Thresholds and input values, with evidence ids.")


class EvidenceSerializer(serializers.Serializer):
    responses = serializers.ListField(child=serializers.UUIDField())
    cmax_results = serializers.ListField(child=serializers.UUIDField())


class ResolutionSerializer(serializers.Serializer):
    action_taken = serializers.ChoiceField(choices=Alert.Action.choices)
    note = serializers.CharField(allow_blank=True)
    resolved_by = UserRefSerializer(allow_null=True)


def user_ref(user) -> dict | None:
    """Refer to a staff user by their public id (never the database's integer key)."""
    if user is None:
        return None
    return {"id": str(user.staff_profile.public_id), "username": user.get_username()}


class AlertSerializer(serializers.ModelSerializer):
    subject = AlertSubjectSerializer(read_only=True)
    rules = serializers.ListField(child=serializers.CharField(), read_only=True)
    reasons = ReasonSerializer(many=True, read_only=True)
    recommended_actions = serializers.ListField(child=serializers.CharField(), read_only=True)
    evidence = serializers.SerializerMethodField()
    profile_version = serializers.IntegerField(source="profile.version", read_only=True)
    profile = serializers.UUIDField(source="profile_id", read_only=True)
    acknowledged_by = serializers.SerializerMethodField()
    resolution = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields: tuple[str, ...] = (
            "id",
            "subject",
            "category",
            "severity",
            "status",
            "rules",
            "reasons",
            "recommended_actions",
            "evidence",
            "profile_version",
            "profile",
            "escalation_tier",
            "created_at",
            "updated_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolution",
        )
        read_only_fields = fields

    @extend_schema_field(EvidenceSerializer)
    def get_evidence(self, alert: Alert) -> dict:
        return {
            "responses": sorted(str(r.pk) for r in alert.evidence_responses.all()),
            "cmax_results": sorted(str(c.pk) for c in alert.evidence_cmax_results.all()),
        }

    @extend_schema_field(UserRefSerializer(allow_null=True))
    def get_acknowledged_by(self, alert: Alert) -> dict | None:
        return user_ref(alert.acknowledged_by)

    @extend_schema_field(ResolutionSerializer(allow_null=True))
    def get_resolution(self, alert: Alert) -> dict | None:
        if alert.status != Alert.Status.RESOLVED:
            return None
        return {
            "action_taken": alert.action_taken,
            "note": alert.resolution_note,
            "resolved_by": user_ref(alert.resolved_by),
        }


class DeliverySerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.kind", help_text="email, sms or webhook.")
    channel_id = serializers.UUIDField(read_only=True)
    recipient = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = (
            "id",
            "channel",
            "channel_id",
            "recipient",
            "tier",
            "status",
            "attempts",
            "sent_at",
            "created_at",
        )
        read_only_fields = fields

    @extend_schema_field(UserRefSerializer)
    def get_recipient(self, delivery: Delivery) -> dict | None:
        return user_ref(delivery.recipient)


class AlertDetailSerializer(AlertSerializer):
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = (*AlertSerializer.Meta.fields, "deliveries")
        read_only_fields = fields


class AlertFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Alert.Status.choices)
    category = django_filters.ChoiceFilter(choices=Alert.Category.choices)
    severity = django_filters.ChoiceFilter(choices=Alert.Severity.choices)
    site = django_filters.CharFilter(field_name="subject__site__code", help_text="Site code.")
    subject = django_filters.UUIDFilter(field_name="subject_id", help_text="Subject id.")

    class Meta:
        model = Alert
        fields = ("status", "category", "severity", "site", "subject")


class AlertListView(GenericAPIView):
    """List the alerts of the user's sites, newest first."""

    permission_classes = [IsStaffUser]
    serializer_class = AlertSerializer
    pagination_class = Pagination
    filterset_class = AlertFilter

    def get_queryset(self):
        return visible_alerts(self.request.user)

    @extend_schema(
        tags=["alerts"],
        summary="List alerts of your sites, newest first",
        responses={200: AlertSerializer(many=True)},
    )
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(AlertSerializer(page, many=True).data)


class AlertObjectMixin:
    request: Any  # the DRF request of the view it is mixed into
    kwargs: dict[str, Any]

    def get_alert(self) -> Alert:
        alert = visible_alerts(self.request.user).filter(pk=self.kwargs["alert_id"]).first()
        if alert is None:
            raise ApiError(404, "not_found", "No such alert.")
        return alert

    def detail(self, alert_id) -> dict:
        queryset = visible_alerts(self.request.user).prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.select_related(
                    "channel", "recipient__staff_profile"
                ).order_by("tier", "created_at"),
            )
        )
        alert = queryset.get(pk=alert_id)
        return AlertDetailSerializer(alert).data


class AlertDetailView(AlertObjectMixin, GenericAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = AlertDetailSerializer

    @extend_schema(
        tags=["alerts"],
        summary="Read an alert with its deliveries",
        responses={200: AlertDetailSerializer, 404: OpenApiResponse(description="Not yours.")},
    )
    def get(self, request, alert_id):
        alert = self.get_alert()
        return Response(self.detail(alert.pk))


class AcknowledgeView(AlertObjectMixin, GenericAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = AlertDetailSerializer

    @extend_schema(
        tags=["alerts"],
        summary="Acknowledge an alert (again: no change); audited",
        description="A clinician's acknowledgement stops the escalation. Anyone else's is "
        "recorded in the audit trail and leaves the alert open, so it keeps escalating to "
        "clinicians.",
        request=None,
        responses={
            200: AlertDetailSerializer,
            404: OpenApiResponse(description="No such alert, or not of your sites."),
            409: OpenApiResponse(description="alert_resolved: the alert is resolved."),
        },
    )
    def post(self, request, alert_id):
        alert = self.get_alert()
        try:
            acknowledge_alert(alert_id=alert.pk, user=request.user)
        except AlertConflict as exc:
            raise ApiError(409, exc.code, exc.message) from None
        return Response(self.detail(alert.pk))


class ResolveInputSerializer(serializers.Serializer):
    action_taken = serializers.ChoiceField(choices=Alert.Action.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ResolveView(AlertObjectMixin, GenericAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = AlertDetailSerializer

    @extend_schema(
        tags=["alerts"],
        summary="Resolve an alert with the action taken; audited",
        request=ResolveInputSerializer,
        responses={
            200: AlertDetailSerializer,
            400: OpenApiResponse(description="Invalid action_taken or note."),
            403: OpenApiResponse(
                description="clinician_required: a clinical action (dose_reduced, "
                "drug_suspended, drug_stopped) or an urgent alert needs a clinician of the site."
            ),
            404: OpenApiResponse(description="No such alert, or not of your sites."),
            409: OpenApiResponse(description="alert_resolved: resolved already."),
        },
    )
    def post(self, request, alert_id):
        alert = self.get_alert()
        data = ResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            resolve_alert(
                alert_id=alert.pk,
                user=request.user,
                action_taken=data.validated_data["action_taken"],
                note=data.validated_data["note"],
            )
        except AlertConflict as exc:
            raise ApiError(409, exc.code, exc.message) from None
        except AlertForbidden as exc:
            raise ApiError(403, exc.code, exc.message) from None
        return Response(self.detail(alert.pk))
