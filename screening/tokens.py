"""Secrets handed to clients: generated once, shown once, stored only as a hash."""

import hashlib
import secrets


def generate_token() -> str:
    """Return a new random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Hash a high-entropy secret for storage and lookup (SHA-256, hex)."""
    return hashlib.sha256(secret.encode()).hexdigest()
