"""Webhooks: a signed JSON POST with the delivery id as idempotency key."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

import requests
from django.conf import settings

from . import TransportError, classify_http_status
from .messages import webhook_body

if TYPE_CHECKING:
    from notifications.models import Delivery

SIGNATURE_HEADER = "X-Signature"


def sign(body: bytes, secret: str) -> str:
    """Return the signature header value of a body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookTransport:
    """POST the alert as JSON; the receiver dedupes on the Idempotency-Key (the delivery id)."""

    def send(self, delivery: Delivery) -> None:
        body = webhook_body(delivery)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(delivery.id),
            SIGNATURE_HEADER: sign(body, delivery.channel.signing_secret),
        }
        try:
            # stream=True: only the status line and headers are read (each read bounded by the
            # timeout); the body is never read, so a slow, huge or broken one cannot hold the
            # worker or turn an accepted delivery into a failure.
            with requests.post(
                delivery.channel.address,
                data=body,
                headers=headers,
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
                stream=True,
            ) as response:
                status_code = response.status_code
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransportError(f"webhook {type(exc).__name__}", permanent=False) from exc
        except requests.RequestException as exc:  # invalid URL and the like: fixable, not gone
            raise TransportError(f"webhook {type(exc).__name__}", permanent=False) from exc
        error = classify_http_status(status_code)
        if error is not None:
            raise error
