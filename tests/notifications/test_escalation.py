"""Escalation of unacknowledged urgent and high alerts (notifications/escalation.py)."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from notifications.escalation import escalate_alerts
from notifications.models import Alert, Delivery
from screening.models import AuditEvent
from tests.factories import (
    AlertFactory,
    MonitoringProfileFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def site():
    site = SiteFactory(code="site-a")
    for username, tier in [("ana", 1), ("ben", 2), ("cy", 3)]:
        UserFactory(username=username, site=site, site__escalation_tier=tier)
    return site


def urgent_alert(site, **fields):
    with time_machine.travel(START, tick=False):
        return AlertFactory(subject=SubjectFactory(site=site), **fields)


def test_unacknowledged_urgent_alert_escalates_to_tier_2_once(
    site, sent_tasks, django_capture_on_commit_callbacks
):
    alert = urgent_alert(site)

    with time_machine.travel(START + timedelta(minutes=31), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            first = escalate_alerts()
            second = escalate_alerts()

    alert.refresh_from_db()
    assert (first, second) == ([str(alert.id)], [])
    assert (alert.escalation_tier, alert.escalated_at) == (2, START + timedelta(minutes=31))
    deliveries = list(Delivery.objects.filter(alert=alert))
    assert [(d.recipient.username, d.tier) for d in deliveries] == [("ben", 2)]
    assert sent_tasks == [str(deliveries[0].id)]
    events = AuditEvent.objects.filter(action="escalate", object_id=str(alert.id))
    assert [(e.changes, e.subject_id, e.actor_id) for e in events] == [
        ({"escalation_tier": [1, 2]}, alert.subject_id, None)
    ]


def test_urgent_alert_is_not_escalated_before_the_profile_time(site, sent_tasks):
    alert = urgent_alert(site, profile=MonitoringProfileFactory(escalation_minutes=45))

    with time_machine.travel(START + timedelta(minutes=44, seconds=59), tick=False):
        assert escalate_alerts() == []
    with time_machine.travel(START + timedelta(minutes=45), tick=False):
        assert escalate_alerts() == [str(alert.id)]


@pytest.mark.parametrize(
    "fields",
    [
        {"status": Alert.Status.ACKNOWLEDGED},
        {"status": Alert.Status.RESOLVED},
        {"severity": Alert.Severity.ROUTINE},
    ],
)
def test_acknowledged_resolved_or_routine_alerts_are_not_escalated(site, sent_tasks, fields):
    urgent_alert(site, **fields)

    with time_machine.travel(START + timedelta(hours=5), tick=False):
        assert escalate_alerts() == []
    assert Delivery.objects.count() == 0


def test_escalation_counts_the_next_tier_from_the_previous_escalation(site, sent_tasks):
    alert = urgent_alert(site)
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        escalate_alerts()
    with time_machine.travel(START + timedelta(minutes=59), tick=False):
        assert escalate_alerts() == []
    with time_machine.travel(START + timedelta(minutes=60), tick=False):
        assert escalate_alerts() == [str(alert.id)]

    alert.refresh_from_db()
    assert alert.escalation_tier == 3
    assert sorted((d.recipient.username, d.tier) for d in alert.deliveries.all()) == [
        ("ben", 2),
        ("cy", 3),
    ]


def test_escalation_stops_at_the_last_tier_and_logs_once(site, sent_tasks, caplog):
    alert = urgent_alert(site, escalation_tier=3)

    with caplog.at_level(logging.ERROR):
        for minutes in (30.5, 31.5, 32.5, 90):
            with time_machine.travel(START + timedelta(minutes=minutes), tick=False):
                assert escalate_alerts() == []

    alert.refresh_from_db()
    assert (alert.escalation_tier, alert.escalated_at) == (3, None)
    assert [r.getMessage() for r in caplog.records] == [
        "alert not acknowledged and no further tier to escalate to"
    ]


def test_escalation_skips_a_tier_without_active_members(sent_tasks):
    site = SiteFactory(code="site-c")
    UserFactory(username="ana", site=site, site__escalation_tier=1)
    UserFactory(username="ben", is_active=False, site=site, site__escalation_tier=2)
    UserFactory(username="cy", site=site, site__escalation_tier=3)
    alert = urgent_alert(site)

    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        escalate_alerts()

    alert.refresh_from_db()
    assert alert.escalation_tier == 3
    assert [(d.recipient.username, d.tier) for d in alert.deliveries.all()] == [("cy", 3)]


def test_a_high_alert_escalates_after_the_profiles_high_time(site, sent_tasks):
    alert = urgent_alert(site, severity=Alert.Severity.HIGH, category="dose_review")

    with time_machine.travel(START + timedelta(minutes=239, seconds=59), tick=False):
        assert escalate_alerts() == []
    with time_machine.travel(START + timedelta(minutes=240), tick=False):
        assert escalate_alerts() == [str(alert.id)]
    alert.refresh_from_db()
    assert alert.escalation_tier == 2
    event = AuditEvent.objects.get(action="escalate", object_id=str(alert.id))
    assert event.reason == "high alert not acknowledged by a clinician within 240 minutes"


def test_a_coordinators_acknowledgement_does_not_stop_the_escalation(site, sent_tasks):
    from notifications.alerts import acknowledge_alert
    from screening.models import SiteMembership

    coordinator = UserFactory(username="col", site=site, site__role=SiteMembership.Role.COORDINATOR)
    alert = urgent_alert(site)
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        acknowledge_alert(alert_id=alert.pk, user=coordinator)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("open", None)
    assert AuditEvent.objects.filter(
        action="acknowledge", object_id=str(alert.id), actor=coordinator
    ).exists()

    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        assert escalate_alerts() == [str(alert.id)]
    assert [(d.recipient.username, d.tier) for d in alert.deliveries.all()] == [("ben", 2)]


def test_escalation_skips_a_tier_of_coordinators_only(sent_tasks):
    from screening.models import SiteMembership

    site = SiteFactory(code="site-d")
    UserFactory(username="ana", site=site, site__escalation_tier=1)
    UserFactory(
        username="col",
        site=site,
        site__escalation_tier=2,
        site__role=SiteMembership.Role.COORDINATOR,
    )
    UserFactory(username="cy", site=site, site__escalation_tier=3)
    alert = urgent_alert(site)

    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        escalate_alerts()

    alert.refresh_from_db()
    assert alert.escalation_tier == 3
    assert [(d.recipient.username, d.tier) for d in alert.deliveries.all()] == [("cy", 3)]
