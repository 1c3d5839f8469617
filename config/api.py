"""API conventions shared by every app: the error shape, pagination and the JSON fallbacks."""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

try:  # Redis backs the cache (rate limits) in production; the embedded default has no Redis.
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
except ImportError:  # pragma: no cover
    UNAVAILABLE_ERRORS = ()

logger = logging.getLogger(__name__)
# Seconds a client is asked to wait when a backing service (Redis) is unreachable.
UNAVAILABLE_RETRY_AFTER = 30


class ApiError(exceptions.APIException):
    """An error with an explicit status, machine code and optional per-field details."""

    def __init__(self, status_code: int, code: str, message: str, fields: dict | None = None):
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(detail=message, code=code)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """Build the contract's error object."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _text(value) -> str:
    """Return the message as text UTF-8 can encode (a quoted lone surrogate becomes ``\\ud800``)."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _flatten(detail) -> dict[str, list[str]]:
    """Turn DRF's nested validation detail into {"field": ["message", ...]}."""
    fields: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(_text(f"{prefix}.{key}" if prefix else key), sub)
        elif isinstance(value, list):
            if all(not isinstance(v, dict | list) for v in value):
                fields.setdefault(prefix or "non_field_errors", []).extend(_text(v) for v in value)
            else:
                for index, sub in enumerate(value):
                    walk(f"{prefix}[{index}]", sub)
        else:
            fields.setdefault(prefix or "non_field_errors", []).append(_text(value))

    walk("", detail)
    return fields


def exception_handler(exc, context):
    """Render every API error as {"error": {"code", "message", "fields"}}."""
    if isinstance(exc, ApiError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, UNAVAILABLE_ERRORS):
        # The rate-limit store is down: refuse for now (never skip the limit), and say so.
        logger.error("a backing service is unreachable", extra={"error": type(exc).__name__})
        return Response(
            error_body("unavailable", "The service is briefly unavailable; try again shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's handler500 answers in the same shape
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "The request is invalid: see fields."
        if list(fields) == ["non_field_errors"] and len(fields["non_field_errors"]) == 1:
            message = fields["non_field_errors"][0]
        response.data = error_body("invalid", message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        if isinstance(detail, dict | list):
            fields, message = _flatten(detail), "The request could not be processed."
        else:
            fields, message = {}, str(detail)
        # (Throttled sets ``wait`` in __init__; the stubs do not declare it)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:  # type: ignore[attr-defined]
            message = f"Too many requests; try again in {int(exc.wait) + 1} seconds."  # type: ignore[attr-defined]
        response.data = error_body(code, message, fields)
    return response


class Pagination(CursorPagination):
    """Cursor pagination, newest first: stable under inserts and constant-time per page."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering: str | tuple[str, ...] = "-created_at"


def json_not_found(request, exception=None):
    """Answer an unknown URL with the contract's 404 body."""
    return JsonResponse(
        error_body("not_found", "No such resource."), status=status.HTTP_404_NOT_FOUND
    )


def json_server_error(request):
    """Answer an unhandled error with the contract's 500 body (never HTML)."""
    return JsonResponse(
        error_body("server_error", "An unexpected error occurred; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def json_bad_request(request, exception=None):
    """Answer a request Django rejects before any view (bad host, bad body) in the error shape."""
    return JsonResponse(error_body("invalid", "Bad request."), status=400)


def json_permission_denied(request, exception=None):
    """Answer a Django-level 403 in the error shape."""
    return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)


class ErrorDetailSerializer(serializers.Serializer):
    """The inside of the contract's error object (for the OpenAPI schema)."""

    code = serializers.CharField(help_text="A machine-readable code such as `not_found`.")
    message = serializers.CharField(help_text="A human-readable explanation.")
    fields = serializers.DictField(  # type: ignore[assignment]  # a field named like the attribute
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per-field messages (empty when the error is not about a field).",
    )


class ErrorSerializer(serializers.Serializer):
    """The contract's error body `{"error": {"code", "message", "fields"}}` (for the schema)."""

    error = ErrorDetailSerializer()
