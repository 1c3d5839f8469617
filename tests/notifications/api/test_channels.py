"""``GET/POST /api/v1/users/{id}/channels/`` (notifications/api/channels.py)."""

import pytest
from django.utils import timezone

from notifications.models import Channel
from screening.models import AuditEvent
from tests.factories import ChannelFactory, UserFactory, staff_client

pytestmark = pytest.mark.django_db


def url(user) -> str:
    return f"/api/v1/users/{user.staff_profile.public_id}/channels/"


@pytest.fixture
def ana():
    return UserFactory(username="ana")


@pytest.mark.parametrize(
    ("kind", "address"),
    [("email", "ana.pager@clinic.example.org"), ("sms", "+27821234567")],
)
def test_user_adds_an_email_or_sms_channel_for_themselves(ana, kind, address):
    response = staff_client(ana).post(url(ana), {"kind": kind, "address": address})

    channel = Channel.objects.get(user=ana)
    assert response.status_code == 201
    assert response.json() == {
        "id": str(channel.id),
        "kind": kind,
        "address": address,
        "active": True,
        "implicit": False,
        "broken_at": None,
        "last_error": "",
        "created_at": channel.created_at.isoformat().replace("+00:00", "Z"),
        "signing_secret": "",
    }
    assert list(
        AuditEvent.objects.filter(object_id=str(channel.id)).values_list(
            "action", "actor_id", "changes"
        )
    ) == [("create", ana.pk, {"kind": kind})]


def test_admin_adds_a_webhook_channel_and_gets_its_signing_secret_once(admin_client_api, ana):
    response = admin_client_api.post(
        url(ana), {"kind": "webhook", "address": "https://hooks.example.org/alerts"}
    )

    channel = Channel.objects.get(user=ana)
    assert response.status_code == 201
    secret = response.json()["signing_secret"]
    assert (len(secret) >= 40, channel.signing_secret) == (True, secret)
    listed = admin_client_api.get(url(ana)).json()["results"]
    assert [sorted(item) for item in listed] == [
        ["active", "address", "broken_at", "created_at", "id", "implicit", "kind", "last_error"]
    ]


@pytest.mark.parametrize(
    ("kind", "address"),
    [
        ("webhook", "ftp://hooks.example.org/x"),
        ("webhook", "javascript:alert(1)"),
        ("webhook", "not a url"),
        ("email", "not-an-email"),
        ("email", "https://example.org"),
        ("sms", "0821234567"),
        ("sms", "+0821234567"),
        ("sms", "+27 82 12"),  # spaces are fine (stored in E.164), too short is not
        ("sms", "+1234567890123456"),
        ("sms", "ana@clinic.example.org"),
    ],
)
def test_address_not_matching_its_kind_is_400(ana, kind, address):
    response = staff_client(ana).post(url(ana), {"kind": kind, "address": address})

    assert response.status_code == 400
    assert (response.json()["error"]["code"], list(response.json()["error"]["fields"])) == (
        "invalid",
        ["address"],
    )
    assert Channel.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"kind": "pigeon", "address": "+27821234567"},
        {"kind": ["sms"], "address": "+27821234567"},
        {"kind": "sms", "address": {"number": "+27821234567"}},
        {"kind": "sms", "address": None},
        {"kind": "email", "address": "a\x00@example.org"},
        {"kind": "email", "address": "a" * 600 + "@example.org"},
        [],
        "sms",
    ],
)
def test_odd_bodies_are_400_never_500(ana, body):
    response = staff_client(ana).post(url(ana), body, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")


def test_same_channel_twice_is_409(ana):
    client = staff_client(ana)
    client.post(url(ana), {"kind": "sms", "address": "+27821234567"})

    response = client.post(url(ana), {"kind": "sms", "address": "+27821234567"})

    assert (response.status_code, response.json()["error"]["code"]) == (409, "conflict")
    assert Channel.objects.count() == 1


def test_adding_a_broken_channel_again_re_enables_it(ana):
    broken = ChannelFactory(
        user=ana,
        kind="webhook",
        address="https://hooks.example.org/a",
        signing_secret="old",
        broken_at=timezone.now(),
        last_error="permanent: HTTP 410",
    )

    response = staff_client(ana).post(
        url(ana), {"kind": "webhook", "address": "https://hooks.example.org/a"}
    )

    broken.refresh_from_db()
    assert response.status_code == 200
    assert (broken.broken_at, broken.last_error, broken.active) == (None, "", True)
    assert broken.signing_secret == response.json()["signing_secret"] != "old"


def test_another_users_channels_are_404(ana):
    other = UserFactory(username="bob")
    client = staff_client(other)

    responses = [
        client.get(url(ana)),
        client.post(url(ana), {"kind": "sms", "address": "+27821234567"}),
    ]

    assert [(r.status_code, r.json()["error"]["code"]) for r in responses] == [
        (404, "not_found"),
        (404, "not_found"),
    ]
    assert Channel.objects.count() == 0


def test_unknown_user_is_404_for_an_admin(admin_client_api):
    response = admin_client_api.get("/api/v1/users/6f1c5a52-0000-4000-8000-000000000000/channels/")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_without_a_token_is_401(api_client, ana):
    response = api_client.get(url(ana))
    assert response.status_code == 401


def test_list_shows_only_the_users_channels_newest_first(ana):
    first = ChannelFactory(user=ana, kind="sms", address="+27821234567")
    second = ChannelFactory(user=ana, kind="email", address="ana2@clinic.example.org")
    ChannelFactory(user=UserFactory(username="bob"))

    response = staff_client(ana).get(url(ana))

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(second.id), str(first.id)]


def test_list_query_count_is_constant(ana, django_assert_num_queries):
    client = staff_client(ana)
    ChannelFactory(user=ana, kind="sms", address="+27820000000")
    client.get(url(ana))  # the token's last use is written (at most once a minute)
    with django_assert_num_queries(3) as few:
        client.get(url(ana))
    for n in range(1, 20):
        ChannelFactory(user=ana, kind="sms", address=f"+2782000{n:04d}")
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url(ana))
    assert len(response.json()["results"]) == 20


# --- re-enabling: POST users/{id}/channels/{channel_id}/enable/ -------------------------------


def enable_url(user, channel) -> str:
    return f"{url(user)}{channel.id}/enable/"


def test_enabling_a_broken_channel_resends_what_failed_on_it_for_open_alerts_only(
    ana, sent_tasks, django_capture_on_commit_callbacks
):
    from notifications.models import Delivery
    from tests.factories import AlertFactory, DeliveryFactory

    channel = ChannelFactory(user=ana, kind="sms", address="+27821234567")
    Channel.objects.filter(pk=channel.pk).update(broken_at=timezone.now(), last_error="x")
    open_failed = DeliveryFactory(channel=channel, status="failed", attempts=8)
    acknowledged_failed = DeliveryFactory(
        channel=channel, status="failed", alert=AlertFactory(status="acknowledged")
    )
    resolved_failed = DeliveryFactory(
        channel=channel, status="failed", alert=AlertFactory(status="resolved")
    )
    sent = DeliveryFactory(channel=channel, status="sent")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client(ana).post(enable_url(ana, channel))

    assert response.status_code == 200
    body = response.json()
    assert (body["broken_at"], body["active"], body["last_error"], body["resent"]) == (
        None,
        True,
        "",
        2,
    )
    statuses = {d.id: (d.status, d.attempts) for d in Delivery.objects.all()}
    assert statuses[open_failed.id] == ("pending", 0)
    assert statuses[acknowledged_failed.id] == ("pending", 0)
    assert statuses[resolved_failed.id][0] == "failed"
    assert statuses[sent.id][0] == "sent"
    assert sorted(sent_tasks) == sorted([str(open_failed.id), str(acknowledged_failed.id)])
    event = AuditEvent.objects.get(object_id=str(channel.id))
    assert (event.action, event.changes["enabled"], event.changes["was_broken_at"] is None) == (
        "update",
        True,
        False,
    )


def test_enabling_another_users_channel_is_404_and_an_unknown_channel_too(ana, admin_client_api):
    bob = UserFactory(username="bob")
    bobs = ChannelFactory(user=bob, kind="sms", address="+27821234567")

    assert staff_client(ana).post(enable_url(bob, bobs)).status_code == 404
    assert staff_client(ana).post(enable_url(ana, bobs)).status_code == 404  # not hers
    assert admin_client_api.post(enable_url(bob, bobs)).status_code == 200
