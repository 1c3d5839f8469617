"""Tests for notifications/evidence_changes.py: notices of withdrawn evidence and their sending."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from notifications import evidence_changes
from notifications.models import AlertNotice
from tests.factories import AlertFactory, ChannelFactory, DeliveryFactory, UserFactory
from tests.support import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice():
    alert = AlertFactory()
    user = UserFactory(site=alert.subject.site)
    ChannelFactory(user=user)
    (row,) = evidence_changes.notify_withdrawn(alert, "cmax-1", "Evidence withdrawn: test")
    return row


def test_the_alert_clinicians_are_those_it_reached_else_its_tier():
    alert = AlertFactory()
    tier_member = UserFactory(site=alert.subject.site)
    assert evidence_changes.alert_clinicians(alert) == [tier_member]

    delivery = DeliveryFactory(alert=alert)

    assert evidence_changes.alert_clinicians(alert) == [delivery.recipient]


def test_a_notice_is_created_once_per_recipient_and_evidence(notice):
    again = evidence_changes.notify_withdrawn(notice.alert, "cmax-1", "Evidence withdrawn: test")

    assert [row.pk for row in again] == [notice.pk]
    assert AlertNotice.objects.count() == 1


def test_a_notice_is_emailed_once(notice):
    assert evidence_changes.send_notice(notice.pk) == "sent"
    assert evidence_changes.send_notice(notice.pk) == ""  # claimed and sent already

    assert [(m.to, m.extra_headers["X-Notice-Id"]) for m in mail.outbox] == [
        ([notice.recipient.email], str(notice.pk))
    ]


def test_an_unsendable_notice_stays_pending_then_fails_after_the_maximum_attempts(notice):
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=free_port(),  # nothing listens there
        EMAIL_TIMEOUT=2,
    ):
        with pytest.raises(OSError):
            evidence_changes.send_notice(notice.pk)
        notice.refresh_from_db()
        assert (notice.status, notice.attempts) == ("pending", 1)

        AlertNotice.objects.filter(pk=notice.pk).update(
            attempts=evidence_changes.NOTICE_MAX_ATTEMPTS - 1
        )
        assert evidence_changes.send_notice(notice.pk) == "failed"
    notice.refresh_from_db()
    assert notice.status == "failed"


def test_a_notice_without_an_email_channel_fails_loudly(notice, caplog):
    notice.recipient.alert_channels.all().delete()
    notice.recipient.email = ""
    notice.recipient.save()

    assert evidence_changes.send_notice(notice.pk) == "failed"
    assert "notice has no email channel" in caplog.text


def test_the_sweep_resends_only_pending_notices_older_than_a_minute(notice, monkeypatch):
    sent = []
    monkeypatch.setattr(evidence_changes, "send_notice_task", sent.append)

    assert evidence_changes.sweep_notices() == 0
    AlertNotice.objects.filter(pk=notice.pk).update(
        created_at=timezone.now() - timedelta(seconds=61)
    )
    assert evidence_changes.sweep_notices() == 1
    assert sent == [str(notice.pk)]
