"""Who receives an alert: the first tier with members, on their channels or else their email."""

import pytest

from notifications.delivery import plan_deliveries
from notifications.models import Alert, Channel
from screening.services.profiles import current_profile
from tests.factories import SubjectFactory, UserFactory, staff_client

pytestmark = pytest.mark.django_db


def make_alert(subject) -> Alert:
    return Alert.objects.create(
        subject=subject,
        category=Alert.Category.DISCONTINUATION,
        severity=Alert.Severity.URGENT,
        rules=["D1"],
        profile=current_profile(),
    )


def channels_of(deliveries) -> list[tuple[str, str]]:
    return sorted((d.channel.kind, d.channel.address) for d in deliveries)


def test_member_without_channels_gets_email_to_their_address():
    subject = SubjectFactory()
    member = UserFactory(site=subject.site)

    deliveries = plan_deliveries(alert=make_alert(subject))

    assert channels_of(deliveries) == [("email", member.email)]
    assert Channel.objects.get(user=member).implicit is True


def test_configuring_a_channel_replaces_the_implicit_email():
    subject = SubjectFactory()
    member = UserFactory(site=subject.site)
    plan_deliveries(alert=make_alert(subject))  # creates the implicit email channel

    added = staff_client(member).post(
        f"/api/v1/users/{member.staff_profile.public_id}/channels/",
        {"kind": "sms", "address": "+27820000000"},
        format="json",
    )
    Alert.objects.update(status=Alert.Status.RESOLVED)
    deliveries = plan_deliveries(alert=make_alert(subject))

    assert added.status_code == 201
    assert channels_of(deliveries) == [("sms", "+27820000000")]


def test_adding_the_implicit_address_makes_it_a_configured_channel():
    subject = SubjectFactory()
    member = UserFactory(site=subject.site)
    plan_deliveries(alert=make_alert(subject))

    added = staff_client(member).post(
        f"/api/v1/users/{member.staff_profile.public_id}/channels/",
        {"kind": "email", "address": member.email},
        format="json",
    )

    assert (added.status_code, added.json()["implicit"]) == (201, False)
    assert Channel.objects.filter(user=member).count() == 1


def test_a_site_without_tier_1_members_pages_its_first_tier_at_once():
    from notifications.evaluation import evaluate_subject
    from screening.services.outbox import request_evaluation
    from tests.factories import ResponseFactory, phq9_answers

    subject = SubjectFactory()
    second_tier = UserFactory(site=subject.site, site__escalation_tier=2)
    response = ResponseFactory(
        subject=subject, instrument_code="PHQ-9", answers=phq9_answers(3, item9=1)
    )
    request_evaluation(subject=subject, reason="response", source_id=response.pk)

    evaluate_subject(subject_id=subject.pk)

    alert = Alert.objects.get()
    assert (alert.rules, alert.escalation_tier) == (["D1"], 2)
    assert [d.recipient for d in alert.deliveries.all()] == [second_tier]


def test_a_member_who_left_the_site_before_sending_is_not_sent_the_alert():
    from notifications.delivery import deliver
    from notifications.models import Delivery
    from screening.models import SiteMembership

    subject = SubjectFactory()
    member = UserFactory(site=subject.site)
    (delivery,) = plan_deliveries(alert=make_alert(subject))
    SiteMembership.objects.filter(user=member).delete()

    outcome = deliver(delivery.pk)

    delivery.refresh_from_db()
    assert (outcome, delivery.status, delivery.last_error) == (
        Delivery.Status.CANCELLED,
        Delivery.Status.CANCELLED,
        "recipient left the site",
    )
