"""Staff side of a subject's phone access: issue an activation code, revoke the phone's tokens."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError
from screening.services.activation import (
    SubjectNotActive,
    issue_activation_code,
    revoke_subject_tokens,
)

from ..pages.links import activation_link, qr_svg
from ..permissions import IsStaffUser
from ..selectors import visible_subjects


class ActivationCodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Shown once; give it to the subject.")
    expires_at = serializers.DateTimeField()
    link = serializers.URLField(
        help_text="Opens the subject's activation page with the code filled in (send or print it)."
    )
    qr_svg = serializers.CharField(help_text="The link as a QR code, an SVG document to print.")


class ActivationCodeView(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(
        tags=["subjects"],
        summary="Issue a one-time activation code for the subject's phone",
        description=(
            "The code is shown once and stored only as a keyed hash; it expires after "
            "`ACTIVATION_CODE_TTL_HOURS` (72 h by default) and replaces any earlier unused code. "
            "`link` opens the activation page `/s/activate/<code>/` with the code filled in "
            "(under `PUBLIC_BASE_URL` when set); `qr_svg` is that link as a QR code. "
            "409 `subject_withdrawn` for a withdrawn subject."
        ),
        request=None,
        responses={201: ActivationCodeSerializer},
    )
    def post(self, request, subject_id):
        subject = get_object_or_404(visible_subjects(request.user), pk=subject_id)
        try:
            row, code = issue_activation_code(subject=subject, actor=request.user)
        except SubjectNotActive:
            raise ApiError(
                409, "subject_withdrawn", "The subject is withdrawn; no code is issued."
            ) from None
        link = activation_link(code, request)
        body = ActivationCodeSerializer(
            {"code": code, "expires_at": row.expires_at, "link": link, "qr_svg": qr_svg(link)}
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


class RevokeTokensView(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(
        tags=["subjects"],
        summary="Revoke every token of the subject's phones (e.g. a lost phone)",
        request=None,
        responses={
            200: inline_serializer("RevokedTokens", {"revoked": serializers.IntegerField()})
        },
    )
    def post(self, request, subject_id):
        subject = get_object_or_404(visible_subjects(request.user), pk=subject_id)
        count = revoke_subject_tokens(subject=subject, actor=request.user)
        return Response({"revoked": count}, status=status.HTTP_200_OK)
