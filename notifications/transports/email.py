"""Email through Django's email backend (SMTP in production)."""

from __future__ import annotations

import smtplib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from . import TransportError
from .messages import render_email

if TYPE_CHECKING:
    from notifications.models import Delivery


def message_domain() -> str:
    """Return the domain of the sender address, for Message-ID headers."""
    _, _, domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")
    return domain.strip(">") or "localhost"


class EmailTransport:
    """Send one alert email; SMTP 5xx refusals of the address are permanent, the rest transient."""

    def send(self, delivery: Delivery) -> None:
        subject, body = render_email(delivery)
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[delivery.channel.address],
            headers={
                "Message-ID": f"<{delivery.id}@{message_domain()}>",
                "X-Delivery-Id": str(delivery.id),
            },
            connection=get_connection(fail_silently=False),
        )
        try:
            sent = message.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            raise TransportError(f"SMTP recipient refused {codes}", permanent=permanent) from exc
        except smtplib.SMTPDataError as exc:
            # A 5xx after DATA refuses this message for this mailbox; a 4xx asks us to retry.
            raise TransportError(
                f"SMTP {exc.smtp_code} after DATA", permanent=exc.smtp_code >= 500
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # Refused HELO, sender or credentials: our configuration, not the recipient's address,
            # so the channel is not blamed; the delivery is retried.
            raise TransportError(f"SMTP {exc.smtp_code}", permanent=False) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out
            raise TransportError(f"SMTP {type(exc).__name__}", permanent=False) from exc
        if sent != 1:
            raise TransportError("the email backend sent nothing", permanent=False)
