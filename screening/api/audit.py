"""The audit trail, readable (issue 10).

- `GET /api/v1/subjects/{id}/audit/`: staff of the subject's site (or an admin); the changes of
  the subject and its data, plus the changes of its site (memberships, escalation tiers) that
  decide who sees it and who is alerted; newest first, paginated.
- `GET /api/v1/audit/`: admins only; every audit event, newest first, paginated; filters
  `subject`, `site` (code), `object_type`, `action`.
"""

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers

from config.api import ApiError, Pagination, StrictModelSerializer

from ..models import AuditEvent
from ..permissions import IsAdmin, IsStaffUser
from ..selectors import visible_subjects


class AuditEventSerializer(StrictModelSerializer):
    actor = serializers.UUIDField(
        source="actor.staff_profile.public_id",
        read_only=True,
        allow_null=True,
        help_text="The public id of the staff user who made the change (null: the system or "
        "the subject).",
    )
    actor_is_subject = serializers.SerializerMethodField()
    subject = serializers.UUIDField(source="subject_id", read_only=True, allow_null=True)
    site = serializers.CharField(source="site.code", read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "action",
            "object_type",
            "object_id",
            "subject",
            "site",
            "actor",
            "actor_is_subject",
            "changes",
            "reason",
        ]
        read_only_fields = fields

    def get_actor_is_subject(self, obj) -> bool:
        return obj.actor_subject_id is not None


class AuditPagination(Pagination):
    ordering = ("-at", "-id")


def audit_rows():
    return AuditEvent.objects.select_related("actor__staff_profile", "site")


class SubjectAuditView(generics.ListAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = AuditEventSerializer
    pagination_class = AuditPagination
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        subject = visible_subjects(self.request.user).filter(pk=self.kwargs["subject_id"]).first()
        if subject is None:
            raise ApiError(404, "not_found", "No such subject.")
        return audit_rows().filter(
            Q(subject=subject) | Q(subject__isnull=True, site_id=subject.site_id)
        )

    @extend_schema(
        tags=["audit"],
        summary="List the audit trail of a subject and its site, newest first",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AuditListView(generics.ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = AuditEventSerializer
    pagination_class = AuditPagination
    filter_backends: list = []

    def get_queryset(self):
        rows = audit_rows()
        params = self.request.query_params
        if params.get("subject"):
            rows = rows.filter(subject_id=params["subject"])
        if params.get("site"):
            rows = rows.filter(site__code=params["site"])
        if params.get("object_type"):
            rows = rows.filter(object_type=params["object_type"])
        if params.get("action"):
            rows = rows.filter(action=params["action"])
        return rows

    @extend_schema(
        tags=["audit"],
        summary="List every audit event, newest first (admins)",
        parameters=[
            OpenApiParameter("subject", str, description="A subject id."),
            OpenApiParameter("site", str, description="A site code."),
            OpenApiParameter("object_type", str, description="E.g. screening.SiteMembership."),
            OpenApiParameter("action", str, description="create, update, delete, void, ..."),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
