"""The README's first session, run as written: its requests against a live service, an email out.

The requests are read out of README.md (the ``<!-- first-session: NAME -->`` code blocks), so the
README cannot drift from what the service accepts. ``{name}`` placeholders are filled from earlier
answers (ids, tokens, the activation code) or the clock (``{yesterday}``, ``{an_hour_ago}``). The
web side is pytest-django's live server; a real Celery worker evaluates and emails through an
SMTP sink.
"""

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.conftest import ROOT
from tests.notifications.sinks import SmtpSink
from tests.support import wait_for

pytestmark = pytest.mark.worker

BLOCK = re.compile(
    r"<!-- first-session: (?P<name>[a-z-]+) -->\n(?P<indent>[ ]*)```http\n(?P<text>.*?)\n *```",
    re.S,
)
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def readme_requests() -> list[tuple[str, str, str, dict, str]]:
    """Return (name, method, path, headers, body text) of each first-session block, in order."""
    found = []
    for match in BLOCK.finditer((ROOT / "README.md").read_text()):
        width = len(match["indent"])
        text = "\n".join(
            line[width:] if line[:width].isspace() else line.lstrip()
            for line in match["text"].splitlines()
        )
        head, _, body = text.partition("\n\n")
        request_line, *header_lines = head.splitlines()
        method, path = request_line.split(" ", 1)
        headers = dict(line.split(": ", 1) for line in header_lines)
        found.append((match["name"], method, path, headers, body.strip()))
    return found


def fill(text: str, values: dict) -> str:
    def value(match):
        name = match[1]
        assert name in values, f"README placeholder {{{name}}} has no value yet"
        return str(values[name])

    return PLACEHOLDER.sub(value, text)


def test_readme_blocks_are_the_first_session_in_order():
    names = [name for name, *_ in readme_requests()]

    assert names == [
        "admin-token",
        "site",
        "clinician",
        "membership",
        "schedule",
        "subject",
        "activation-code",
        "activate",
        "assessments",
        "response",
        "cmax",
        "clinician-token",
        "alerts",
        "acknowledge",
        "resolve",
    ]
    # Every body is JSON as shown (placeholders sit inside strings).
    for _, _, _, _, body in readme_requests():
        if body:
            json.loads(body)


def test_the_readme_first_session_ends_in_a_clinicians_alert_email(live_server, start_worker):
    get_user_model().objects.create_superuser(
        username="admin", password="a-Long-pass-4821", email="admin@example.org"
    )
    # Treatment started yesterday (site time): the day-0 forms (09:00, open 72 h) are open now.
    today = timezone.now().astimezone(ZoneInfo("Africa/Johannesburg")).date()
    values = {
        "yesterday": (today - timedelta(days=1)).isoformat(),
        "an_hour_ago": (timezone.now() - timedelta(hours=1)).replace(microsecond=0).isoformat(),
    }
    # What each step's answer gives to the steps after it.
    captures = {
        "admin-token": lambda body: {"admin_token": body["token"]},
        "clinician": lambda body: {"user_id": body["id"]},
        "subject": lambda body: {"subject_id": body["id"]},
        "activation-code": lambda body: {"code": body["code"]},
        "activate": lambda body: {"phone_token": body["token"]},
        "assessments": lambda body: {
            "assessment_id": next(
                a["id"] for a in body["results"] if a["instrument"]["code"] == "PHQ-9"
            )
        },
        "clinician-token": lambda body: {"clinician_token": body["token"]},
        "alerts": lambda body: {
            "alert_id": next(a["id"] for a in body["results"] if a["severity"] == "urgent")
        },
    }
    answers = {}

    with SmtpSink() as sink:
        start_worker({"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(sink.port)})
        for name, method, path, headers, body in readme_requests():
            if name == "clinician-token":
                # The alert is the worker's: wait for the email before the clinician looks.
                wait_for(lambda: urgent_emails(sink), timeout=60)
            response = requests.request(
                method,
                live_server.url + fill(path, values),
                headers={
                    **{key: fill(value, values) for key, value in headers.items()},
                    **({"Content-Type": "application/json"} if body else {}),
                },
                data=fill(body, values).encode() if body else None,
                timeout=30,
            )
            assert response.status_code in (200, 201), (name, response.status_code, response.text)
            answers[name] = response.json()
            values.update(captures.get(name, lambda _: {})(answers[name]))

    (email,) = urgent_emails(sink)
    assert email.rcpt_tos == ["ndlovu@clinic.example.org"]
    assert email.message["Subject"] == "[URGENT] Discontinuation review alert for CPT-001 (cpt): D1"
    assert answers["clinician"]["phone"] == "+27821234567"
    assert [e["until_day"] for e in answers["schedule"]["entries"]] == [168, 168, 168]
    assert answers["response"]["status"] == "completed"
    assert answers["resolve"]["status"] == "resolved"


def urgent_emails(sink: SmtpSink) -> list:
    return [e for e in sink.received if str(e.message["Subject"]).startswith("[URGENT]")]
