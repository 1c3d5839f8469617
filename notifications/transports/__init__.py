"""One small transport class per channel kind, and the registry that maps a kind to it.

A transport sends one delivery and either returns or raises ``TransportError``: ``permanent=True``
when retrying cannot help (the address is refused), so the channel is marked broken and the
recipient's other channels are tried; ``permanent=False`` when a later attempt may succeed.
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
    if status_code in (408, 429) or status_code >= 500:
        return TransportError(f"HTTP {status_code}", permanent=False)
    # 3xx (redirects are not followed: a POST must not turn into a GET) and other 4xx: the
    # address is wrong or refuses us, and retrying the same request cannot help.
    return TransportError(f"HTTP {status_code}", permanent=True)
