"""Middleware of the project (config/settings.py MIDDLEWARE)."""

from django.http import JsonResponse

from config.api import error_body
from config.parsers import UNSTORABLE, UNSTORABLE_MESSAGE


class RejectUnstorableTextMiddleware:
    """Answer 400 to a query string holding a NUL or a lone surrogate, before any view.

    Such a value would reach a database filter (PostgreSQL refuses a NUL in text: a 500) or a
    rendered message (UTF-8 cannot encode a lone surrogate). Query values that are not UTF-8 are
    decoded by Django with replacement characters, which are harmless.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        fields: dict[str, list[str]] = {}
        for key, values in request.GET.lists():
            if UNSTORABLE.search(key) or any(UNSTORABLE.search(value) for value in values):
                safe_key = UNSTORABLE.sub("\ufffd", key)
                fields[safe_key] = [UNSTORABLE_MESSAGE]
        if fields:
            return JsonResponse(
                error_body("invalid", "The request is invalid: see fields.", fields), status=400
            )
        return self.get_response(request)
