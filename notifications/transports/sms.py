"""SMS through a pluggable backend: an HTTP gateway, or the console for development."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import requests
from django.conf import settings

from . import TransportError, classify_http_status, delivery_address
from .messages import render_sms

if TYPE_CHECKING:
    from notifications.models import Delivery

logger = logging.getLogger(__name__)


class ConsoleSmsBackend:
    """Log that a message would be sent: the channel id and length, never the number or text."""

    def send(self, *, channel_id: str, to: str, text: str, idempotency_key: str = "") -> None:
        logger.info(f"SMS to channel {channel_id}", extra={"length": len(text)})


class HttpSmsBackend:
    """POST ``{"to", "text"}`` with a bearer token and the delivery id as ``Idempotency-Key``."""

    def send(self, *, channel_id: str, to: str, text: str, idempotency_key: str = "") -> None:
        try:
            # The body of the answer is never read (stream=True): only its status matters.
            with requests.post(
                settings.SMS_GATEWAY_URL,
                json={"to": to, "text": text},
                headers={
                    "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}",
                    "Idempotency-Key": idempotency_key,
                },
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
                stream=True,
            ) as response:
                status_code = response.status_code
        except requests.RequestException as exc:
            # Timeouts, refused connections, and a malformed gateway URL (our configuration, not
            # the recipient's number): all transient.
            raise TransportError(f"SMS gateway {type(exc).__name__}", permanent=False) from exc
        error = classify_http_status(status_code)
        if error is not None:
            if status_code in (401, 403):
                # Our token is refused: not the number's fault, so do not mark the channel broken.
                raise TransportError(f"SMS gateway HTTP {status_code}", permanent=False)
            raise TransportError(f"SMS gateway {error.message}", permanent=error.permanent)


BACKENDS: dict[str, type[ConsoleSmsBackend | HttpSmsBackend]] = {
    "console": ConsoleSmsBackend,
    "http": HttpSmsBackend,
}


class SmsTransport:
    """Send the short alert text to the channel's E.164 number through the configured backend."""

    def send(self, delivery: Delivery) -> None:
        backend = BACKENDS[settings.SMS_BACKEND]()
        backend.send(
            channel_id=str(delivery.channel_id),
            to=delivery_address(delivery),
            text=render_sms(delivery),
            idempotency_key=str(delivery.id),
        )
