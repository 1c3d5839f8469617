"""Links to the subject's pages that staff hand out (activation link and its QR code)."""

import io

import segno
from django.conf import settings
from django.urls import reverse


def public_url(path: str, request=None) -> str:
    """Return an absolute URL: ``PUBLIC_BASE_URL`` when set, else the request's own origin."""
    if settings.PUBLIC_BASE_URL:
        return f"{settings.PUBLIC_BASE_URL}{path}"
    if request is not None:
        return request.build_absolute_uri(path)
    return path


def activation_link(code: str, request=None) -> str:
    """Return the link that opens the activation page with the code filled in."""
    return public_url(reverse("subject-activate-code", kwargs={"code": code}), request)


def qr_svg(data: str) -> str:
    """Return the QR code of ``data`` as an SVG document (segno, error correction M)."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(
        buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, title="QR code"
    )
    return buffer.getvalue().decode()
