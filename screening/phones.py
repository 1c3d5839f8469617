"""One rule for phone numbers everywhere (staff users, subjects' contacts, SMS channels).

A number is accepted in international form, with or without spaces, dashes or brackets
(``+27 82 123 4567``), checked with the ``phonenumbers`` metadata (django-phonenumber-field) and
stored in E.164 (``+27821234567``). A number without its country code is refused: the service
has no home country to guess.
"""

from __future__ import annotations

from phonenumber_field.phonenumber import to_python
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

MESSAGE = "Enter a valid phone number with its country code, e.g. +27821234567."


class InvalidPhoneNumber(ValueError):
    """Not a valid international phone number."""


def to_e164(value: object) -> str:
    """Return the number in E.164, or raise InvalidPhoneNumber."""
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidPhoneNumber(MESSAGE)
    number = to_python(value.strip(), region=None)
    if number is None or not number.is_valid():
        raise InvalidPhoneNumber(MESSAGE)
    return number.as_e164


class E164PhoneField(PhoneNumberField):
    """A DRF field: any valid international number in, its E.164 text out."""

    default_error_messages = {"invalid": MESSAGE}

    def to_internal_value(self, data):
        try:
            return to_e164(data)
        except InvalidPhoneNumber:
            raise serializers.ValidationError(MESSAGE, code="invalid") from None
