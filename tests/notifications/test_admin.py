"""Tests for notifications/admin.py: alerts are visible and read only in the admin."""

import pytest
from django.test import Client

from notifications.evaluation import evaluate_subject
from notifications.models import Alert
from tests.factories import ResponseFactory, SubjectFactory, phq9_answers

pytestmark = pytest.mark.django_db


def test_alerts_are_listed_and_read_only(admin_user):
    subject = SubjectFactory()
    ResponseFactory(subject=subject, answers=phq9_answers(12))
    evaluate_subject(subject_id=subject.pk)
    alert = Alert.objects.get()
    client = Client()
    client.force_login(admin_user)

    listing = client.get("/admin/notifications/alert/")
    detail = client.get(f"/admin/notifications/alert/{alert.pk}/change/")
    changed = client.post(f"/admin/notifications/alert/{alert.pk}/change/", {"status": "resolved"})

    assert (listing.status_code, detail.status_code, changed.status_code) == (200, 200, 403)
    alert.refresh_from_db()
    assert alert.status == "open"


def test_broken_channels_are_listed_and_the_enable_action_resends_failed_open_alerts(
    admin_user, sent_tasks, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from notifications.models import Channel, Delivery
    from tests.factories import ChannelFactory, DeliveryFactory

    channel = ChannelFactory(kind="sms", address="+27821234567")
    Channel.objects.filter(pk=channel.pk).update(broken_at=timezone.now(), last_error="HTTP 410")
    failed = DeliveryFactory(channel=channel, status="failed")
    client = Client()
    client.force_login(admin_user)

    listing = client.get("/admin/notifications/channel/?broken_at__isnull=False")
    with django_capture_on_commit_callbacks(execute=True):
        acted = client.post(
            "/admin/notifications/channel/",
            {"action": "enable", "_selected_action": [str(channel.pk)]},
        )

    assert (listing.status_code, acted.status_code) == (200, 302)
    assert str(channel.pk) in listing.content.decode()
    channel.refresh_from_db()
    assert (channel.broken_at, channel.active) == (None, True)
    assert Delivery.objects.get(pk=failed.pk).status == "pending"
    assert sent_tasks == [str(failed.pk)]


def test_export_jobs_are_listed_and_read_only(admin_user):
    from notifications.models import ExportJob

    job = ExportJob.objects.create(requested_by=admin_user, dataset="alerts")
    client = Client()
    client.force_login(admin_user)

    listing = client.get("/admin/notifications/exportjob/")
    detail = client.get(f"/admin/notifications/exportjob/{job.pk}/change/")
    changed = client.post(f"/admin/notifications/exportjob/{job.pk}/change/", {"status": "done"})
    added = client.get("/admin/notifications/exportjob/add/")

    assert (listing.status_code, detail.status_code, changed.status_code, added.status_code) == (
        200,
        200,
        403,
        403,
    )
    job.refresh_from_db()
    assert job.status == "queued"
