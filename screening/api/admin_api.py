"""Administration: staff users, sites and site memberships.

Staff users are addressed by the UUID of their StaffProfile (``public_id``), never by the
sequential primary key of ``auth.User``.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, Pagination
from screening.occurrences import is_valid_timezone

from ..audit import record_audit
from ..models import AuditEvent, Site, SiteMembership, StaffProfile
from ..permissions import IsAdmin, IsStaffUser
from ..selectors import is_admin, staff_user_by_public_id, visible_sites

User = get_user_model()


def validate_timezone_name(value: str) -> str:
    if not is_valid_timezone(value):
        raise serializers.ValidationError(
            "Unknown time zone; use an IANA name such as Africa/Johannesburg."
        )
    return value


# --- Users ----------------------------------------------------------------------------------------


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(max_length=512, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(max_length=254)
    phone = serializers.RegexField(
        r"^\+?[0-9][0-9 ()-]{4,30}\Z", max_length=32, required=False, allow_blank=True
    )

    def validate(self, attrs):
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="staff_profile.public_id", read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    phone = serializers.CharField(source="staff_profile.phone", read_only=True)


class UserListCreateView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        tags=["administration"],
        summary="Create a staff user (admin)",
        request=UserCreateSerializer,
        responses={201: UserSerializer},
    )
    def post(self, request):
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=values["username"], email=values["email"], password=values["password"]
                )
                profile = StaffProfile.objects.get_or_create(user=user)[0]
                user.staff_profile = profile
                if values.get("phone"):
                    profile.phone = values["phone"]
                    profile.save(update_fields=["phone"])
                record_audit(
                    action=AuditEvent.Action.CREATE,
                    obj=user,
                    actor=request.user,
                    changes={"username": user.username, "public_id": str(profile.public_id)},
                )
        except IntegrityError:
            raise ApiError(409, "conflict", "This username is taken.") from None
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


# --- Sites ----------------------------------------------------------------------------------------


class SiteSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(read_only=True)
    code = serializers.SlugField(max_length=32)
    timezone = serializers.CharField(max_length=64, validators=[validate_timezone_name])  # type: ignore[list-item]  # DRF ignores a validator's return value
    crisis_message = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    class Meta:
        model = Site
        fields = ["id", "code", "name", "timezone", "crisis_message", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class SiteUpdateSerializer(SiteSerializer):
    code = serializers.SlugField(read_only=True)


class SitePagination(Pagination):
    ordering = "code"


class SiteListCreateView(generics.ListCreateAPIView):
    serializer_class = SiteSerializer
    pagination_class = SitePagination
    filter_backends: list = []

    def get_permissions(self):
        return [IsAdmin()] if self.request.method == "POST" else [IsStaffUser()]

    def get_queryset(self):
        return visible_sites(self.request.user).order_by("code")

    @extend_schema(tags=["administration"], summary="List the sites you belong to (all for admins)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(tags=["administration"], summary="Create a site (admin)")
    def post(self, request, *args, **kwargs):
        data = SiteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                site = data.save()
                record_audit(
                    action=AuditEvent.Action.CREATE,
                    obj=site,
                    actor=request.user,
                    changes={field: data.data[field] for field in data.validated_data},
                )
        except IntegrityError:
            raise ApiError(409, "conflict", "A site with this code exists.") from None
        return Response(SiteSerializer(site).data, status=status.HTTP_201_CREATED)


class SiteDetailView(APIView):
    permission_classes = [IsStaffUser]

    def get_site(self, request, code: str) -> Site:
        return get_object_or_404(visible_sites(request.user), code=code)

    @extend_schema(tags=["administration"], summary="Show a site", responses=SiteSerializer)
    def get(self, request, code: str):
        return Response(SiteSerializer(self.get_site(request, code)).data)

    @extend_schema(
        tags=["administration"],
        summary="Change a site (admin)",
        request=SiteUpdateSerializer,
        responses=SiteSerializer,
    )
    def patch(self, request, code: str):
        site = self.get_site(request, code)  # 404 before 403: a stranger learns nothing
        if not is_admin(request.user):
            raise ApiError(403, "permission_denied", "Only admins change sites.")
        data = SiteUpdateSerializer(site, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {
            field: {"old": getattr(site, field), "new": value}
            for field, value in data.validated_data.items()
            if getattr(site, field) != value
        }
        with transaction.atomic():
            data.save()
            if changes:
                record_audit(
                    action=AuditEvent.Action.UPDATE, obj=site, actor=request.user, changes=changes
                )
        return Response(SiteSerializer(site).data)


# --- Memberships ----------------------------------------------------------------------------------


class MembershipCreateSerializer(serializers.Serializer):
    user = serializers.UUIDField(help_text="The staff user's id.")
    role = serializers.ChoiceField(choices=SiteMembership.Role.choices)
    escalation_tier = serializers.IntegerField(min_value=1, max_value=9, default=1)


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.UUIDField(source="user.staff_profile.public_id", read_only=True)
    site = serializers.CharField(source="site.code", read_only=True)

    class Meta:
        model = SiteMembership
        fields = ["id", "user", "site", "role", "escalation_tier", "created_at"]


class SiteMembersView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        tags=["administration"],
        summary="Add a staff user to a site (admin)",
        request=MembershipCreateSerializer,
        responses={201: MembershipSerializer},
    )
    def post(self, request, code: str):
        site = get_object_or_404(Site, code=code)
        data = MembershipCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = staff_user_by_public_id(values["user"])
        if user is None:
            raise ApiError(400, "invalid", "Unknown user.", {"user": ["Unknown user."]})
        try:
            with transaction.atomic():
                membership = SiteMembership.objects.create(
                    user=user,
                    site=site,
                    role=values["role"],
                    escalation_tier=values["escalation_tier"],
                )
                record_audit(
                    action=AuditEvent.Action.CREATE,
                    obj=membership,
                    actor=request.user,
                    changes={
                        "user": str(values["user"]),
                        "site": site.code,
                        "role": membership.role,
                        "escalation_tier": membership.escalation_tier,
                    },
                )
        except IntegrityError:
            raise ApiError(409, "conflict", "The user is already a member of this site.") from None
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)
