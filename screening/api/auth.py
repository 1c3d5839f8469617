"""Staff sign-in: username and password for a bearer token."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from config.api import ApiError, ErrorSerializer, StrictSerializer

from ..models import AccessToken
from ..services import staff_login
from . import examples


class StaffLoginThrottle(AnonRateThrottle):
    scope = "staff_login"


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=512, trim_whitespace=False)


class ObtainTokenView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [StaffLoginThrottle]

    @extend_schema(
        tags=["auth"],
        summary="Exchange a staff username and password for a bearer token",
        request=TokenRequestSerializer,
        examples=examples.TOKEN,
        responses={
            200: inline_serializer(
                "TokenResponse",
                {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            ),
            400: OpenApiResponse(ErrorSerializer, description="Invalid fields."),
            401: OpenApiResponse(
                ErrorSerializer, description="Unknown username or wrong password."
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many attempts from this client (`throttled`), or too many "
                "failed sign-ins for this account (`account_locked`; the user and the "
                "administrators are emailed).",
            ),
        },
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = staff_login.sign_in(
                request,
                username=data.validated_data["username"],
                password=data.validated_data["password"],
            )
        except staff_login.InvalidCredentials:
            raise ApiError(
                401, "invalid_credentials", "Unknown username or wrong password."
            ) from None
        except staff_login.AccountLocked:
            minutes = max(1, settings.STAFF_LOGIN_LOCKOUT_SECONDS // 60)
            raise ApiError(
                429,
                "account_locked",
                f"Too many failed sign-ins for this account: it is locked for up to {minutes} "
                "minutes. The account's owner and the administrators have been told by email.",
            ) from None
        token, key = AccessToken.issue(user=user)
        return Response(
            # (a staff token always expires)
            {"token": key, "expires_at": token.expires_at.isoformat()},  # type: ignore[union-attr]
            status=status.HTTP_200_OK,
        )


class RevokeTokenView(APIView):
    @extend_schema(
        tags=["auth"],
        summary="Revoke the bearer token of this request",
        request=None,
        responses={204: None},
    )
    def delete(self, request):
        request.auth.revoke()
        return Response(status=status.HTTP_204_NO_CONTENT)
