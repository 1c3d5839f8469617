"""One small transport class per channel kind, and the registry that maps a kind to it.

A transport sends one delivery and either returns or raises ``TransportError``: ``permanent=True``
only for a recipient-specific permanent refusal (an SMTP 5.1.x for that address while the server
accepts others, a webhook's 410 Gone), so the channel is marked broken and the recipient's other
channels are tried; ``permanent=False`` for everything else (server-wide refusals, 4xx, 5xx,
timeouts, our own configuration): retried with backoff, failing over in time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from notifications.models import Delivery


class TransportError(Exception):
    """A delivery could not be sent; ``permanent`` says whether retrying could help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return f"{'permanent' if self.permanent else 'transient'}: {self.message}"


class Transport(Protocol):
    """Send one delivery (its alert, channel and recipient are loaded) or raise TransportError."""

    def send(self, delivery: Delivery) -> None: ...


def delivery_address(delivery: Delivery) -> str:
    """Return where a delivery goes: the channel's address, or a subject's decrypted contact."""
    channel = delivery.channel
    if channel.subject_id is None:
        return channel.address
    from screening import crypto

    subject = channel.subject
    assert subject is not None
    try:
        contact = subject.contact_email if channel.kind == "email" else subject.contact_phone
    except crypto.DecryptionError:
        raise TransportError("the subject's contact cannot be decrypted", permanent=False) from None
    if not contact:
        raise TransportError("the subject has no contact of this kind now", permanent=False)
    return contact


def get_transport(kind: str) -> Transport:
    """Return the transport of a channel kind."""
    from .email import EmailTransport
    from .sms import SmsTransport
    from .webhook import WebhookTransport

    registry: dict[str, type] = {
        "email": EmailTransport,
        "sms": SmsTransport,
        "webhook": WebhookTransport,
    }
    try:
        return registry[kind]()
    except KeyError:
        raise TransportError(f"no transport for channel kind {kind!r}", permanent=True) from None


def classify_http_status(status_code: int) -> TransportError | None:
    """Map an HTTP answer to None (delivered) or the error it means."""
    if 200 <= status_code < 300:
        return None
    if status_code == 410:
        # Gone: the receiver says this address will never take anything again.
        return TransportError(f"HTTP {status_code}", permanent=True)
    # 3xx (redirects are not followed: a POST must not turn into a GET), other 4xx and 5xx: a
    # misconfiguration or an outage that someone can fix; retried with backoff, failing over.
    return TransportError(f"HTTP {status_code}", permanent=False)
