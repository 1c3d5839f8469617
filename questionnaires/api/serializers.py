"""The instrument shapes of the API (docs/api.md "Schedules and instruments"), its query params."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# A language tag such as "en", "pt-BR" or "zh-Hant-TW" (BCP 47, simplified; "_" is accepted).
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,4}")
# Instrument codes are short: letters, digits, "-", "_" and "." (PHQ-9, NEURO-SX).
INSTRUMENT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
MAX_VERSION = 2_147_483_647  # the largest value the version column holds


@extend_schema_field(
    {"oneOf": [{"type": "integer"}, {"type": "string"}], "description": "The stored answer value."}
)
class AnswerValueField(serializers.Field):
    """An option's value: an integer (scored options, the ordinal value) or a string."""

    def to_representation(self, value):
        return value


class InstrumentOptionSerializer(serializers.Serializer):
    value = AnswerValueField(
        read_only=True, help_text="What a response stores; for scored items the score (0–3)."
    )
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]  # a field, not Field.label


class InstrumentItemSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True, help_text="The item's answer key.")
    text = serializers.CharField(read_only=True)
    type = serializers.ChoiceField(
        choices=["choice", "integer"],
        read_only=True,
        help_text="Choice items have `options`; integer items have `min` and `max`.",
    )
    # Not read-only, so that the schema does not mark these conditional fields as required.
    options = InstrumentOptionSerializer(many=True, required=False, help_text="Choice items only.")
    min = serializers.IntegerField(required=False, help_text="Integer items only.")
    max = serializers.IntegerField(required=False, help_text="Integer items only.")
    required = serializers.BooleanField(read_only=True)  # type: ignore[assignment]  # a field
    scored = serializers.BooleanField(read_only=True)


class InstrumentSerializer(serializers.Serializer):
    """One instrument version rendered in one language (English fills any missing text)."""

    code = serializers.CharField(read_only=True, help_text="PHQ-9, GAD-7, NEURO-SX or BPNS.")
    version = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(
        choices=["self_report", "clinician"],
        read_only=True,
        help_text="Answered by the subject (on the phone) or by a clinician.",
    )
    language = serializers.CharField(
        read_only=True,
        help_text=(
            "The language served: the requested one when it supplied at least one text "
            "(English fills the texts it lacks, item by item), else `en`."
        ),
    )
    preamble = serializers.CharField(read_only=True, help_text="The stem shown above the items.")
    recall_period = serializers.CharField(
        read_only=True, allow_null=True, help_text="ISO 8601 duration such as P14D, or null."
    )
    items = InstrumentItemSerializer(many=True, read_only=True)


class InstrumentQuerySerializer(serializers.Serializer):
    """Query parameters of the instrument endpoints."""

    language = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=35,
        help_text=(
            "Language tag such as `es` or `pt-BR`. Default: the subject's language for a subject "
            "token, else `en`."
        ),
    )

    def validate_language(self, value: str) -> str:
        if value and not LANGUAGE_TAG.fullmatch(value):
            raise serializers.ValidationError("Not a language tag (such as en, es or pt-BR).")
        return value


class InstrumentVersionQuerySerializer(InstrumentQuerySerializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        help_text="An older version (default: the current one); 404 when not stored.",
    )
