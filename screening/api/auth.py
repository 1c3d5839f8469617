"""Staff sign-in: username and password for a bearer token."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from config.api import ApiError

from ..models import AccessToken


class StaffLoginThrottle(AnonRateThrottle):
    scope = "staff_login"


class TokenRequestSerializer(serializers.Serializer):
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
        responses={
            200: inline_serializer(
                "TokenResponse",
                {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            )
        },
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            raise ApiError(401, "invalid_credentials", "Unknown username or wrong password.")
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
