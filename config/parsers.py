"""Request parsers: DRF's, made safe for any content a client may send."""

import re

from rest_framework import exceptions
from rest_framework.parsers import JSONParser as DrfJSONParser

# What text columns cannot hold: a NUL (PostgreSQL rejects it) or a lone UTF-16 surrogate (JSON's
# "\ud800" parses into one; UTF-8 cannot encode it).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Contains a NUL character or a lone surrogate, which text cannot hold."
MAX_REPORTED_FIELDS = 20


def unstorable_paths(value, prefix: str = "") -> list[str]:
    """Return the paths (``a.b[2]``) of every key or string in ``value`` that text cannot hold."""
    paths: list[str] = []
    stack = [(prefix, value)]
    while stack and len(paths) < MAX_REPORTED_FIELDS:
        path, item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                paths.append(path or "non_field_errors")
        elif isinstance(item, dict):
            for key, sub in item.items():
                key_text = str(key)
                if UNSTORABLE.search(key_text):
                    paths.append(path or "non_field_errors")
                    continue
                stack.append((f"{path}.{key_text}" if path else key_text, sub))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", sub) for index, sub in enumerate(item))
    return sorted(paths)


class JSONParser(DrfJSONParser):
    """DRF's JSON parser, but a body nested too deeply to parse is a 400, not a 500, and so is a
    string or key holding a NUL or a lone surrogate, anywhere in the body (one field per path)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        paths = unstorable_paths(data)
        if paths:
            raise exceptions.ValidationError({path: [UNSTORABLE_MESSAGE] for path in paths})
        return data


class FhirJSONParser(JSONParser):
    """FHIR's JSON media type (``application/fhir+json``), parsed as JSON."""

    media_type = "application/fhir+json"
