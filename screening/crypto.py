"""Encrypt contact details at rest (Fernet; several keys so that a key can be rotated).

The first key of ``settings.FIELD_ENCRYPTION_KEYS`` encrypts; every key decrypts. Values are
never logged.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["DecryptionError", "decrypt", "encrypt"]


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    """Return the Fernet token of the text (an empty text stays empty)."""
    if not text:
        return ""
    return _current().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """Return the clear text of a Fernet token (an empty token stays empty)."""
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "contact details cannot be decrypted with the configured keys"
        ) from None
