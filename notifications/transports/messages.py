"""The text of every message (alerts, subject reminders, broken-channel notices) from templates.

Messages name the subject by study id and site only: never a name or contact detail of a patient.
Reminders to subjects name no instrument and no health information.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

if TYPE_CHECKING:
    from notifications.models import Alert, Channel, Delivery, SubjectReminder

CATEGORY_WORDS = {
    "discontinuation": "discontinuation review",
    "dose_review": "dose review",
    "tdm_needed": "Cmax measurement (TDM) needed",
    "clinical_review": "clinical review",
}


def alert_context(alert: Alert) -> dict:
    """Return the plain values every alert message shows."""
    subject = alert.subject
    path = f"/api/v1/alerts/{alert.id}/acknowledge/"
    desk_path = reverse("desk-alert", kwargs={"alert_id": alert.id})
    return {
        "alert_id": str(alert.id),
        "study_id": subject.study_id,
        "site": subject.site.code,
        "category": alert.category,
        "category_words": CATEGORY_WORDS.get(alert.category, alert.category),
        "severity": alert.severity,
        "rules": list(alert.rules),
        "reasons": [
            {"rule": reason.get("rule", ""), "text": reason.get("text", "")}
            for reason in alert.reasons
            if isinstance(reason, dict)
        ],
        "recommended_actions": [str(action) for action in alert.recommended_actions],
        "escalation_tier": alert.escalation_tier,
        "acknowledge_url": f"{settings.PUBLIC_BASE_URL}{path}" if settings.PUBLIC_BASE_URL else "",
        "acknowledge_path": path,
        "desk_url": f"{settings.PUBLIC_BASE_URL}{desk_path}" if settings.PUBLIC_BASE_URL else "",
        "desk_path": desk_path,
    }


def delivery_context(delivery: Delivery) -> dict:
    """Return what this message adds to the alert: its tier, revision and why it was sent."""
    return {"tier": delivery.tier, "revision": delivery.revision, "note": delivery.note}


def reminder_context(reminder: SubjectReminder) -> dict:
    """Return what a reminder says: when the window closes, in the subject's time zone."""
    assessment = reminder.assessment
    zone = assessment.subject.timezone
    closes = assessment.closes_at.astimezone(ZoneInfo(zone))
    page = reverse("subject-home")
    link = f"{settings.PUBLIC_BASE_URL}{page}" if settings.PUBLIC_BASE_URL else page
    return {"closes_local": f"{closes:%Y-%m-%d %H:%M}", "timezone": zone, "link": link}


def notice_context(channel: Channel) -> dict:
    """Return what a broken-channel notice says: which channel, whose, and why."""
    owner, subject = channel.user, channel.subject
    context = {
        "channel_id": str(channel.id),
        "channel_kind": channel.kind,
        "error": channel.last_error,
        "broken_at": channel.broken_at.isoformat() if channel.broken_at else "",
        "owner": (owner.get_username() if owner else ""),
        "study_id": subject.study_id if subject else "",
        "site": subject.site.code if subject else "",
        "enable_path": "",
    }
    profile = getattr(owner, "staff_profile", None) if owner else None
    if profile is not None:
        context["enable_path"] = f"/api/v1/users/{profile.public_id}/channels/{channel.id}/enable/"
    return context


def _context(delivery: Delivery) -> tuple[str, dict]:
    """Return the template prefix and the context of a delivery's message."""
    if delivery.reminder is not None:
        return "reminder", reminder_context(delivery.reminder)
    if delivery.about_channel is not None:
        return "channel_broken", notice_context(delivery.about_channel)
    assert delivery.alert is not None  # the model's check constraint: each row has its message
    return "alert", {**alert_context(delivery.alert), **delivery_context(delivery)}


def render_email(delivery: Delivery) -> tuple[str, str]:
    """Return the subject line and plain-text body of a delivery's email."""
    prefix, context = _context(delivery)
    subject = render_to_string(f"notifications/{prefix}_email_subject.txt", context)
    body = render_to_string(f"notifications/{prefix}_email_body.txt", context)
    return " ".join(subject.split()), body


def render_sms(delivery: Delivery) -> str:
    """Return the short text of a delivery's SMS."""
    prefix, context = _context(delivery)
    text = render_to_string(f"notifications/{prefix}_sms.txt", context)
    return " ".join(text.split())


def webhook_body(delivery: Delivery) -> bytes:
    """Return the JSON body of a webhook delivery (the exact bytes that are signed)."""
    if delivery.about_channel is not None:
        payload: dict = {
            "delivery_id": str(delivery.id),
            "notice": {"kind": "channel_broken", **notice_context(delivery.about_channel)},
        }
        return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    alert = delivery.alert
    assert alert is not None  # subjects have no webhook channel: only alerts and notices come here
    payload = {
        "delivery_id": str(delivery.id),
        "alert": {
            "id": str(alert.id),
            "category": alert.category,
            "severity": alert.severity,
            "rules": list(alert.rules),
            "reasons": list(alert.reasons),
            "recommended_actions": list(alert.recommended_actions),
            "escalation_tier": delivery.tier,
            "revision": delivery.revision,
            "note": delivery.note,
            "created_at": alert.created_at.isoformat(),
            "subject": {
                "id": str(alert.subject.id),
                "study_id": alert.subject.study_id,
                "site": alert.subject.site.code,
            },
        },
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
