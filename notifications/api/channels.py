"""A staff user's alert channels: ``GET/POST /api/v1/users/{id}/channels/``, and
``POST /api/v1/users/{id}/channels/{channel_id}/enable/`` to re-enable one."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from config.api import ApiError, Pagination, StrictModelSerializer, StrictSerializer
from notifications.planning import enable_channel, resend_failed_on
from notifications.recipients import ChannelExists, add_channel
from screening.api.examples import example
from screening.phones import InvalidPhoneNumber, to_e164
from screening.selectors import is_admin, staff_user_by_public_id

from ..models import Channel

ADDRESS_VALIDATORS = {
    Channel.Kind.EMAIL: (EmailValidator(), "Enter a valid email address."),
    Channel.Kind.WEBHOOK: (
        URLValidator(schemes=["http", "https"]),
        "Enter an http or https URL.",
    ),
}


class ChannelInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=Channel.Kind.choices)
    address = serializers.CharField(max_length=500)

    def validate(self, attrs):
        kind, address = attrs["kind"], attrs["address"]
        if kind == Channel.Kind.SMS:
            try:
                attrs["address"] = to_e164(address)
            except InvalidPhoneNumber as exc:
                raise serializers.ValidationError({"address": [str(exc)]}) from None
            return attrs
        validator, message = ADDRESS_VALIDATORS[kind]
        try:
            validator(address)  # type: ignore[operator]  # validator instances are callable
        except DjangoValidationError:
            raise serializers.ValidationError({"address": [message]}) from None
        if kind == Channel.Kind.EMAIL:
            attrs["address"] = address.strip()
        return attrs


class ChannelSerializer(StrictModelSerializer):
    class Meta:
        model = Channel
        fields = [
            "id",
            "kind",
            "address",
            "active",
            "implicit",
            "broken_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields


class CreatedChannelSerializer(ChannelSerializer):
    signing_secret = serializers.CharField(
        help_text="Webhooks only, shown once: the HMAC-SHA256 key of the X-Signature header."
    )

    class Meta(ChannelSerializer.Meta):
        fields = [*ChannelSerializer.Meta.fields, "signing_secret"]
        read_only_fields = fields


class TargetUserMixin:
    def get_target_user(self):
        """Return the user of the URL if the requester may manage them; 404 otherwise."""
        user = staff_user_by_public_id(self.kwargs["user_id"])  # type: ignore[attr-defined]
        request_user = self.request.user  # type: ignore[attr-defined]
        if user is None or not (is_admin(request_user) or request_user == user):
            raise ApiError(404, "not_found", "No such resource.")
        return user


class UserChannelsView(TargetUserMixin, GenericAPIView):
    """The alert channels of one staff user: admins, or the user themselves."""

    serializer_class = ChannelSerializer
    pagination_class = Pagination
    queryset = Channel.objects.none()

    @extend_schema(
        tags=["staff"],
        summary="List a staff user's alert channels",
        description=(
            "Members receive their sites' alerts by email to their user address unless other "
            "channels are configured. A channel marked broken (`broken_at`) after a "
            "recipient-specific permanent failure (an SMTP 5.1.x refusal of that address while "
            "the server accepts others, a webhook's 410 Gone) is skipped until it is re-enabled "
            "(`POST .../channels/{channel_id}/enable/`) or added again; its owner and the admins "
            "are told when it breaks."
        ),
        responses={200: ChannelSerializer(many=True)},
    )
    def get(self, request, user_id):
        user = self.get_target_user()
        page = self.paginate_queryset(Channel.objects.filter(user=user))
        return self.get_paginated_response(ChannelSerializer(page, many=True).data)

    @extend_schema(
        tags=["staff"],
        summary="Add an alert channel to a staff user",
        description=(
            "`email`: an email address; `sms`: a phone number with its country code (stored in "
            "E.164, as for users); `webhook`: an http(s) URL "
            "receiving a JSON POST signed with `X-Signature: sha256=<hex HMAC of the body>` and "
            "carrying the delivery id as `Idempotency-Key`. A webhook's `signing_secret` is "
            "returned once. Adding a broken or inactive channel again re-enables it (200)."
        ),
        request=ChannelInputSerializer,
        examples=[
            example("SMS", {"kind": "sms", "address": "+27 82 123 4567"}, "Stored in E.164."),
            example("Email", {"kind": "email", "address": "ward7@clinic.example.org"}),
            example("Webhook", {"kind": "webhook", "address": "https://pager.example.org/hook"}),
        ],
        responses={
            201: CreatedChannelSerializer,
            200: CreatedChannelSerializer,
            400: OpenApiResponse(description="Invalid kind or address."),
            404: OpenApiResponse(description="Unknown user, or not yours."),
            409: OpenApiResponse(description="The user already has this channel."),
        },
    )
    def post(self, request, user_id):
        user = self.get_target_user()
        data = ChannelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            channel, secret, created = add_channel(
                user=user,
                kind=data.validated_data["kind"],
                address=data.validated_data["address"],
                actor=request.user,
            )
        except ChannelExists:
            raise ApiError(409, "conflict", "This user already has this channel.") from None
        resend_failed_on(channel)  # re-added after breaking: what failed on it goes out again
        body = {**ChannelSerializer(channel).data, "signing_secret": secret}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class EnabledChannelSerializer(ChannelSerializer):
    resent = serializers.IntegerField(
        help_text="Deliveries that had failed on this channel, for alerts still open, sent again."
    )

    class Meta(ChannelSerializer.Meta):
        fields = [*ChannelSerializer.Meta.fields, "resent"]
        read_only_fields = fields


class EnableChannelView(TargetUserMixin, GenericAPIView):
    """Re-enable one channel of a staff user; what failed on it for open alerts is sent again."""

    serializer_class = EnabledChannelSerializer
    queryset = Channel.objects.none()

    @extend_schema(
        tags=["staff"],
        summary="Re-enable a staff user's alert channel",
        description=(
            "Clears `broken_at` and makes the channel active again. Every delivery that failed "
            "on it for an alert that is not resolved is sent again (`resent` says how many). "
            "Audited. Admins, or the user themselves."
        ),
        request=None,
        responses={
            200: EnabledChannelSerializer,
            404: OpenApiResponse(description="Unknown user or channel, or not yours."),
        },
    )
    def post(self, request, user_id, channel_id):
        user = self.get_target_user()
        channel = Channel.objects.filter(user=user, pk=channel_id).first()
        if channel is None:
            raise ApiError(404, "not_found", "No such resource.")
        resent = enable_channel(channel=channel, actor=request.user)
        channel.refresh_from_db()
        return Response({**ChannelSerializer(channel).data, "resent": resent})


urlpatterns = [
    path("users/<uuid:user_id>/channels/", UserChannelsView.as_view(), name="user-channels"),
    path(
        "users/<uuid:user_id>/channels/<uuid:channel_id>/enable/",
        EnableChannelView.as_view(),
        name="user-channel-enable",
    ),
]
