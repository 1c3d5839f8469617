"""Who is paged, who may act, and what happens when nobody can be reached (issue 9).

Against the real database; the admins' report goes to a real SMTP sink.
"""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from notifications.alerts import AlertForbidden, acknowledge_alert, resolve_alert
from notifications.delivery import plan_deliveries
from notifications.evaluation import evaluate_subject
from notifications.models import Alert, Delivery
from notifications.reconciliation import reconcile, report_undeliverable
from screening.models import AuditEvent, SiteMembership
from screening.services.submissions import enter_staff_response
from tests.factories import (
    AlertFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
)
from tests.notifications.sinks import SmtpSink

pytestmark = pytest.mark.django_db

COORDINATOR = SiteMembership.Role.COORDINATOR
SMTP = "django.core.mail.backends.smtp.EmailBackend"


def recipients(alert) -> list[str]:
    deliveries = Delivery.objects.filter(alert=alert)
    return sorted(deliveries.values_list("recipient__username", flat=True))


def item9_alert(subject, entered_by) -> Alert:
    enter_staff_response(
        subject=subject,
        instrument_code="PHQ-9",
        answers=phq9_answers(5, item9=2),
        completed_at=timezone.now() - timedelta(hours=1),
        source="paper",
        entered_by=entered_by,
    )
    evaluate_subject(subject_id=subject.pk)
    return Alert.objects.get(subject=subject, category="discontinuation")


# --- who is paged --------------------------------------------------------------------------------


def test_clinicians_are_paged_and_coordinators_are_not_by_default():
    site = SiteFactory()
    UserFactory(username="ana", site=site)
    col = UserFactory(username="col", site=site, site__role=COORDINATOR)
    alert = item9_alert(SubjectFactory(site=site), col)
    assert recipients(alert) == ["ana"]


def test_coordinators_are_informed_where_the_site_says_so():
    site = SiteFactory(inform_coordinators=True)
    UserFactory(username="ana", site=site)
    col = UserFactory(username="col", site=site, site__role=COORDINATOR)
    alert = item9_alert(SubjectFactory(site=site), col)
    assert recipients(alert) == ["ana", "col"]


def test_a_site_of_coordinators_only_falls_back_to_the_admins_and_says_why():
    site = SiteFactory(code="lonely", inform_coordinators=True)
    col = UserFactory(username="col", site=site, site__role=COORDINATOR)
    UserFactory(username="root", is_superuser=True, is_staff=True)
    alert = item9_alert(SubjectFactory(site=site), col)

    assert recipients(alert) == ["col", "root"]  # the coordinator never alone
    [to_admin] = Delivery.objects.filter(alert=alert, recipient__username="root")
    assert to_admin.note.startswith("Site lonely has no active clinician")


# --- who may act ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "action", "allowed"),
    [
        ("urgent", "dose_reduced", False),
        ("urgent", "referred", False),  # an urgent alert waits for a clinician
        ("routine", "drug_stopped", False),
        ("routine", "no_change", True),
        ("high", "referred", True),
    ],
)
def test_only_a_clinician_resolves_clinically_or_resolves_an_urgent_alert(
    severity, action, allowed
):
    site = SiteFactory()
    col = UserFactory(site=site, site__role=COORDINATOR)
    alert = AlertFactory(subject=SubjectFactory(site=site), severity=severity)
    if allowed:
        assert resolve_alert(alert_id=alert.pk, user=col, action_taken=action).status == "resolved"
    else:
        with pytest.raises(AlertForbidden):
            resolve_alert(alert_id=alert.pk, user=col, action_taken=action)
        alert.refresh_from_db()
        assert alert.status == "open"


def test_a_clinician_resolves_with_a_clinical_action():
    site = SiteFactory()
    ana = UserFactory(site=site)
    alert = AlertFactory(subject=SubjectFactory(site=site))
    assert resolve_alert(alert_id=alert.pk, user=ana, action_taken="dose_reduced").status == (
        "resolved"
    )


def test_the_api_answers_403_with_a_clear_message(api_client):
    from tests.factories import staff_client

    site = SiteFactory()
    col = UserFactory(site=site, site__role=COORDINATOR)
    alert = AlertFactory(subject=SubjectFactory(site=site))
    client = staff_client(col)

    acknowledged = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    resolved = client.post(
        f"/api/v1/alerts/{alert.pk}/resolve/", {"action_taken": "dose_reduced"}, format="json"
    )

    assert (acknowledged.status_code, acknowledged.json()["status"]) == (200, "open")
    assert resolved.status_code == 403
    assert resolved.json()["error"]["code"] == "clinician_required"
    assert "clinician" in resolved.json()["error"]["message"]
    assert AuditEvent.objects.filter(action="acknowledge", actor=col).exists()


def test_a_clinicians_acknowledgement_is_one():
    site = SiteFactory()
    ana = UserFactory(site=site)
    alert = AlertFactory(subject=SubjectFactory(site=site))
    acknowledge_alert(alert_id=alert.pk, user=ana)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", ana)


# --- nobody to page is never silent --------------------------------------------------------------


def test_an_alert_nobody_can_receive_is_undeliverable_at_once_and_reported_once(capsys):
    site = SiteFactory(code="empty")
    subject = SubjectFactory(site=site, study_id="E-1")
    alert = AlertFactory(subject=subject)
    plan_deliveries(alert=alert, tier=1)  # no clinician, no admin: no delivery at all

    result = reconcile()
    assert [a.pk for a in result.undeliverable_unreported] == [alert.pk]
    with pytest.raises(CommandError, match="1 open alert"):
        call_command("check_alerts")

    admin = UserFactory(username="root", is_superuser=True, email="root@example.org")
    with (
        SmtpSink() as sink,
        override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port),
    ):
        assert report_undeliverable() == [str(alert.pk)]
        assert report_undeliverable() == []  # once
    [email] = sink.received
    assert email.rcpt_tos == [admin.email]
    assert "[UNDELIVERED URGENT] alert for E-1 (empty) reached no one" in email.message["Subject"]
    call_command("check_alerts")  # accounted for now: exits 0
    assert "undeliverable, reported to the admins" in capsys.readouterr().out


def test_readyz_is_degraded_with_the_count_and_the_oldest(api_client):
    alert = AlertFactory(subject=SubjectFactory(site=SiteFactory()))
    body = api_client.get("/readyz").json()
    assert (body["status"], body["undeliverable_alerts"]) == ("degraded", 1)
    assert body["oldest_undeliverable_at"] == alert.created_at.isoformat()


def test_a_pending_delivery_is_in_flight_until_the_escalation_time_then_undeliverable():
    site = SiteFactory()
    UserFactory(site=site)
    alert = AlertFactory(subject=SubjectFactory(site=site))
    plan_deliveries(alert=alert, tier=1)
    paged_at = Alert.objects.get(pk=alert.pk).paged_at

    just_before = paged_at + timedelta(minutes=29, seconds=59)
    assert [a.pk for a in reconcile(now=just_before).in_flight] == [alert.pk]
    at_deadline = paged_at + timedelta(minutes=30)
    assert [a.pk for a in reconcile(now=at_deadline).undeliverable_unreported] == [alert.pk]

    Delivery.objects.filter(alert=alert).update(status="sent", sent_at=timezone.now())
    assert [a.pk for a in reconcile(now=at_deadline).delivered] == [alert.pk]
