"""Request parsers: DRF's, made safe for any content a client may send."""

from rest_framework import exceptions
from rest_framework.parsers import JSONParser as DrfJSONParser


class JSONParser(DrfJSONParser):
    """DRF's JSON parser, but a body nested too deeply to parse is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None


class FhirJSONParser(JSONParser):
    """FHIR's JSON media type (``application/fhir+json``), parsed as JSON."""

    media_type = "application/fhir+json"
