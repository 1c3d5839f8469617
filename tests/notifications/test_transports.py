"""The transports against real receivers: an SMTP sink and a local HTTP server."""

import hashlib
import hmac
import json
import logging

import pytest
from django.test import override_settings

from notifications.transports import TransportError, get_transport
from notifications.transports.email import EmailTransport, names_the_address
from notifications.transports.sms import SmsTransport
from notifications.transports.webhook import WebhookTransport
from tests.factories import (
    AlertFactory,
    ChannelFactory,
    DeliveryFactory,
    SiteFactory,
    SubjectFactory,
)
from tests.notifications.sinks import HttpReceiver, SmtpSink
from tests.support import free_port

pytestmark = pytest.mark.django_db

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def make_delivery(kind="email", address=None, secret=""):
    site = SiteFactory(code="site-a")
    alert = AlertFactory(subject=SubjectFactory(site=site, study_id="TB-0042"))
    channel = ChannelFactory(kind=kind, signing_secret=secret)
    if address is not None:
        channel.address = address
        channel.save(update_fields=["address"])
    return DeliveryFactory(alert=alert, channel=channel)


def test_registry_maps_each_kind_to_its_transport():
    assert [type(get_transport(kind)) for kind in ("email", "sms", "webhook")] == [
        EmailTransport,
        SmsTransport,
        WebhookTransport,
    ]


def test_registry_unknown_kind_is_a_permanent_error():
    with pytest.raises(TransportError) as caught:
        get_transport("pigeon")
    assert caught.value.permanent is True


def test_email_reaches_the_smtp_sink_with_the_delivery_id_and_no_contact_details():
    delivery = make_delivery()
    with (
        SmtpSink() as sink,
        override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port),
    ):
        EmailTransport().send(delivery)

    assert [email.rcpt_tos for email in sink.received] == [[delivery.channel.address]]
    message = sink.received[0].message
    assert message["Subject"] == ("[URGENT] Discontinuation review alert for TB-0042 (site-a): D1")
    assert message["X-Delivery-Id"] == str(delivery.id)
    assert message["Message-ID"] == f"<{delivery.id}@localhost>"
    body = message.get_payload(decode=True).decode()
    assert body.splitlines()[:12] == [
        "This urgent alert needs your attention.",
        "",
        "Subject: TB-0042",
        "Site: site-a",
        "Alert: discontinuation review (discontinuation)",
        "Severity: urgent",
        "Rules: D1",
        "",
        "Why:",
        "- D1: PHQ-9 item 9 (thoughts of self-harm) answered 2: urgent review.",
        "",
        "Recommended actions:",
    ]
    lines = body.splitlines()
    start = lines.index(
        f"Acknowledge this alert (alert ID {delivery.alert.id}) on the clinician desk:"
    )
    assert lines[start + 1 : start + 3] == [
        f"/desk/alerts/{delivery.alert.id}/",
        "or with the API:",
    ]


@pytest.mark.parametrize("code", ["451 4.3.0 try later", "554 5.7.1 rejected"])
def test_email_smtp_refusal_after_data_is_transient_4xx_or_5xx(code):
    # A refusal after DATA is a policy or an outage, not proof that the address is wrong.
    delivery = make_delivery()
    with (
        SmtpSink(fail_first=1, fail_code=code) as sink,
        override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port),
    ):
        with pytest.raises(TransportError) as caught:
            EmailTransport().send(delivery)
    assert (caught.value.permanent, sink.received) == (False, [])


def test_email_550_5_1_1_for_one_address_while_the_server_accepts_others_is_permanent():
    delivery = make_delivery()
    address = delivery.channel.address
    with (
        SmtpSink(refuse={address}) as sink,
        override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port),
    ):
        with pytest.raises(TransportError) as caught:
            EmailTransport().send(delivery)
    domain = address.rpartition("@")[2]
    assert (caught.value.permanent, sink.probes, sink.received) == (
        True,
        [f"postmaster@{domain}"],
        [],  # the probe is reset before DATA: nothing reaches the postmaster
    )


def test_email_550_5_1_1_for_everyone_is_transient():
    delivery = make_delivery()
    with (
        SmtpSink() as sink,
        override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port),
    ):
        sink.refuse_all_for(60)
        with pytest.raises(TransportError) as caught:
            EmailTransport().send(delivery)
    assert (caught.value.permanent, sink.rcpt_refusals, sink.received) == (False, 2, [])


@pytest.mark.parametrize(
    ("code", "message", "blames"),
    [
        (550, b"5.1.1 no such user", True),
        (550, b"no such user", True),  # no enhanced code: the postmaster probe decides
        (553, b"5.1.3 bad address syntax", True),
        (550, b"5.7.1 relaying denied", False),  # a policy, not the address
        (554, b"5.1.1 no such user", False),
        (450, b"4.1.1 try later", False),
    ],
)
def test_an_rcpt_refusal_blames_the_address_only_for_mailbox_codes(code, message, blames):
    assert names_the_address(code, message) is blames


def test_email_connection_refused_is_transient():
    delivery = make_delivery()
    with override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=free_port()):
        with pytest.raises(TransportError) as caught:
            EmailTransport().send(delivery)
    assert caught.value.permanent is False


def test_webhook_posts_signed_json_with_the_delivery_id_as_idempotency_key():
    with HttpReceiver() as receiver:
        delivery = make_delivery("webhook", receiver.url, secret="s3cret")
        WebhookTransport().send(delivery)

    [request] = receiver.requests
    expected_signature = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["Idempotency-Key"] == str(delivery.id)
    assert request.headers["X-Signature"] == f"sha256={expected_signature}"
    alert = delivery.alert
    assert request.json() == {
        "delivery_id": str(delivery.id),
        "alert": {
            "id": str(alert.id),
            "category": "discontinuation",
            "severity": "urgent",
            "rules": ["D1"],
            "reasons": alert.reasons,
            "recommended_actions": alert.recommended_actions,
            "escalation_tier": 1,
            "revision": 0,
            "note": "",
            "created_at": alert.created_at.isoformat(),
            "subject": {"id": str(alert.subject.id), "study_id": "TB-0042", "site": "site-a"},
        },
    }


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, False),
        (404, False),
        (410, True),
        (301, False),
        (408, False),
        (429, False),
        (500, False),
        (503, False),
    ],
)
def test_webhook_error_statuses_are_classified(status, permanent):
    with HttpReceiver(statuses=[status]) as receiver:
        delivery = make_delivery("webhook", receiver.url, secret="k")
        with pytest.raises(TransportError) as caught:
            WebhookTransport().send(delivery)
    assert caught.value.permanent is permanent


def test_webhook_2xx_with_a_broken_response_body_is_delivered():
    # The receiver accepted the request; its body is never read, so its faults cannot turn a
    # delivered message into a failure (a resend) or a "permanent" error (a broken channel).
    with HttpReceiver(broken_body=True) as receiver:
        delivery = make_delivery("webhook", receiver.url, secret="k")
        assert WebhookTransport().send(delivery) is None
    assert len(receiver.requests) == 1


def test_webhook_connection_refused_is_transient():
    delivery = make_delivery("webhook", f"http://127.0.0.1:{free_port()}/hook", secret="k")
    with pytest.raises(TransportError) as caught:
        WebhookTransport().send(delivery)
    assert caught.value.permanent is False


def test_webhook_timeout_is_transient():
    with HttpReceiver(hold_first=True) as receiver, override_settings(WEBHOOK_TIMEOUT_SECONDS=0.3):
        delivery = make_delivery("webhook", receiver.url, secret="k")
        with pytest.raises(TransportError) as caught:
            WebhookTransport().send(delivery)
    assert caught.value.permanent is False


def test_sms_console_backend_logs_the_channel_and_length_not_the_number(caplog):
    delivery = make_delivery("sms", "+27821234567")
    with override_settings(SMS_BACKEND="console"), caplog.at_level(logging.INFO):
        SmsTransport().send(delivery)
    [record] = [r for r in caplog.records if r.name == "notifications.transports.sms"]
    text = f"[urgent] discontinuation alert for TB-0042 (site-a): D1. Ack: {delivery.alert.id}"
    assert (record.getMessage(), record.length) == (
        f"SMS to channel {delivery.channel.id}",
        len(text),
    )
    assert "+27821234567" not in caplog.text


def test_sms_http_gateway_posts_number_and_short_text_with_a_bearer_token():
    with (
        HttpReceiver() as gateway,
        override_settings(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_TOKEN="tok"),
    ):
        delivery = make_delivery("sms", "+27821234567")
        SmsTransport().send(delivery)
    [request] = gateway.requests
    assert request.headers["Authorization"] == "Bearer tok"
    assert json.loads(request.body) == {
        "to": "+27821234567",
        "text": (
            f"[urgent] discontinuation alert for TB-0042 (site-a): D1. Ack: {delivery.alert.id}"
        ),
    }


def test_sms_http_gateway_2xx_with_a_broken_response_body_is_sent():
    with (
        HttpReceiver(broken_body=True) as gateway,
        override_settings(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_TOKEN="tok"),
    ):
        delivery = make_delivery("sms", "+27821234567")
        assert SmsTransport().send(delivery) is None
    assert len(gateway.requests) == 1


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(400, False), (401, False), (410, True), (429, False), (502, False)],
)
def test_sms_http_gateway_error_statuses_are_classified(status, permanent):
    with (
        HttpReceiver(statuses=[status]) as gateway,
        override_settings(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_TOKEN="tok"),
    ):
        delivery = make_delivery("sms", "+27821234567")
        with pytest.raises(TransportError) as caught:
            SmsTransport().send(delivery)
    assert caught.value.permanent is permanent
