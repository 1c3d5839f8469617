"""Email through Django's email backend (SMTP in production)."""

from __future__ import annotations

import re
import smtplib
from email.utils import parseaddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from . import TransportError, delivery_address
from .messages import render_email

if TYPE_CHECKING:
    from notifications.models import Delivery


def message_domain() -> str:
    """Return the domain of the sender address, for Message-ID headers."""
    _, _, domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")
    return domain.strip(">") or "localhost"


# SMTP reply codes that refuse a mailbox (RFC 5321 4.2.2); 5.1.x enhanced codes name the address.
MAILBOX_REFUSALS = {550, 551, 553}
ENHANCED = re.compile(rb"\s*([245])\.(\d{1,3})\.(\d{1,3})")


def names_the_address(code: int, message: bytes) -> bool:
    """Whether a RCPT refusal blames the mailbox: 550/551/553 with no or a 5.1.x enhanced code."""
    if code not in MAILBOX_REFUSALS:
        return False
    enhanced = ENHANCED.match(message or b"")
    return enhanced is None or enhanced.group(1, 2) == (b"5", b"1")


def server_accepts_others(connection, address: str) -> bool:
    """Ask the same server, in the same session, whether it accepts the address's postmaster.

    Every SMTP server that delivers or relays for a domain must accept ``postmaster`` (RFC 5321
    4.5.1), so a server that refuses it refuses everyone (an outage or a misconfiguration), and a
    server that accepts it but refused the address refused that address. Nothing is sent: the
    transaction is reset before DATA. Any failure of the probe counts as "does not accept".
    """
    smtp = getattr(connection, "connection", None)
    _, _, domain = address.rpartition("@")
    if smtp is None or not domain:
        return False
    try:
        code, _ = smtp.mail(parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "postmaster")
        if code != 250:
            return False
        code, _ = smtp.rcpt(f"postmaster@{domain}")
        smtp.rset()
    except (smtplib.SMTPException, OSError):
        return False
    return code in (250, 251)


class EmailTransport:
    """Send one email; only a refusal of this address by a server accepting others is permanent."""

    def send(self, delivery: Delivery) -> None:
        subject, body = render_email(delivery)
        address = delivery_address(delivery)
        connection = get_connection(fail_silently=False)
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={
                "Message-ID": f"<{delivery.id}@{message_domain()}>",
                "X-Delivery-Id": str(delivery.id),
            },
            connection=connection,
        )
        try:
            connection.open()
            sent = message.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            refusals = list(exc.recipients.values())
            codes = [code for code, _ in refusals]
            permanent = (
                bool(refusals)
                and all(names_the_address(code, text) for code, text in refusals)
                and server_accepts_others(connection, address)
            )
            raise TransportError(
                f"SMTP recipient refused {codes}"
                + ("" if permanent else " (not shown to be this address alone)"),
                permanent=permanent,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # A refusal after DATA, of HELO, the sender or credentials: a policy, our configuration
            # or an outage, not proof that this address is wrong. Retried, failing over in time.
            raise TransportError(f"SMTP {exc.smtp_code}", permanent=False) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out
            raise TransportError(f"SMTP {type(exc).__name__}", permanent=False) from exc
        finally:
            try:
                connection.close()
            except (smtplib.SMTPException, OSError):
                pass  # the message's fate is decided above; a failed QUIT changes nothing
        if sent != 1:
            raise TransportError("the email backend sent nothing", permanent=False)
