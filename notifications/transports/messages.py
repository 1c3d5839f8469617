"""The text of alert messages, rendered from templates.

Messages name the subject by study id and site only: never a name or contact detail of a patient.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

if TYPE_CHECKING:
    from notifications.models import Alert, Delivery

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


def render_email(delivery: Delivery) -> tuple[str, str]:
    """Return the subject line and plain-text body of an alert email."""
    context = {**alert_context(delivery.alert), **delivery_context(delivery)}
    subject = render_to_string("notifications/alert_email_subject.txt", context)
    body = render_to_string("notifications/alert_email_body.txt", context)
    return " ".join(subject.split()), body


def render_sms(delivery: Delivery) -> str:
    """Return the short text of an alert SMS."""
    context = {**alert_context(delivery.alert), **delivery_context(delivery)}
    text = render_to_string("notifications/alert_sms.txt", context)
    return " ".join(text.split())


def webhook_body(delivery: Delivery) -> bytes:
    """Return the JSON body of a webhook delivery (the exact bytes that are signed)."""
    alert = delivery.alert
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
