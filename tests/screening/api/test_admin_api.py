"""Administration: users, sites, memberships; only admins create them."""

import uuid

import pytest
from django.contrib.auth import get_user_model

from screening.models import SiteMembership, StaffProfile
from tests.factories import MembershipFactory, SiteFactory, UserFactory, staff_client

pytestmark = pytest.mark.django_db


def test_admin_creates_user_with_opaque_id(admin_client_api):
    response = admin_client_api.post(
        "/api/v1/users/",
        {
            "username": "dr.k",
            "password": "a-Long-pass-4821",
            "email": "k@example.org",
            "phone": "+27 82 000 0000",
        },
        format="json",
    )

    assert response.status_code == 201
    user = get_user_model().objects.get(username="dr.k")
    assert response.json() == {
        "id": str(user.staff_profile.public_id),
        "username": "dr.k",
        "email": "k@example.org",
        "phone": "+27820000000",  # stored in E.164
    }
    assert user.check_password("a-Long-pass-4821")
    assert user.is_staff is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "a", "password": "123", "email": "a@example.org"}, "password"),
        ({"username": "a", "password": "password", "email": "a@example.org"}, "password"),
        ({"username": "a b", "password": "a-Long-pass-4821", "email": "a@example.org"}, "username"),
        ({"username": "a", "password": "a-Long-pass-4821", "email": "nope"}, "email"),
        ({"username": "a", "email": "a@example.org"}, "password"),
    ],
)
def test_create_user_invalid_is_400(admin_client_api, body, field):
    response = admin_client_api.post("/api/v1/users/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_create_user_duplicate_username_is_409(admin_client_api):
    UserFactory(username="taken")
    body = {"username": "taken", "password": "a-Long-pass-4821", "email": "t@example.org"}

    assert admin_client_api.post("/api/v1/users/", body, format="json").status_code == 409


def test_non_admin_cannot_create_users_sites_members_or_schedules():
    membership = MembershipFactory(role="coordinator")
    client = staff_client(membership.user)
    code = membership.site.code

    responses = [
        client.post("/api/v1/users/", {}, format="json"),
        client.post("/api/v1/sites/", {}, format="json"),
        client.post(f"/api/v1/sites/{code}/members/", {}, format="json"),
        client.post("/api/v1/schedules/", {}, format="json"),
        client.patch(f"/api/v1/sites/{code}/", {"name": "x"}, format="json"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403, 403]


def test_sites_create_list_get_patch(admin_client_api):
    created = admin_client_api.post(
        "/api/v1/sites/",
        {
            "code": "za-jhb",
            "name": "Johannesburg",
            "timezone": "Africa/Johannesburg",
            "crisis_message": "Call 0800 567 567",
        },
        format="json",
    )
    duplicate = admin_client_api.post(
        "/api/v1/sites/",
        {"code": "za-jhb", "name": "Again", "timezone": "UTC"},
        format="json",
    )
    bad_tz = admin_client_api.post(
        "/api/v1/sites/", {"code": "x", "name": "X", "timezone": "Nope/Nope"}, format="json"
    )
    patched = admin_client_api.patch(
        "/api/v1/sites/za-jhb/", {"crisis_message": "Call 112", "code": "ignored"}, format="json"
    )

    assert created.status_code == 201
    assert duplicate.status_code == 409
    assert (bad_tz.status_code, list(bad_tz.json()["error"]["fields"])) == (400, ["timezone"])
    assert (patched.status_code, patched.json()["crisis_message"], patched.json()["code"]) == (
        200,
        "Call 112",
        "za-jhb",
    )
    listed = admin_client_api.get("/api/v1/sites/").json()["results"]
    assert [s["code"] for s in listed] == ["za-jhb"]


def test_clinician_lists_only_own_sites_and_gets_404_for_others():
    mine = SiteFactory(code="mine")
    SiteFactory(code="theirs")
    client = staff_client(MembershipFactory(site=mine).user)

    listed = client.get("/api/v1/sites/").json()["results"]

    assert [s["code"] for s in listed] == ["mine"]
    assert client.get("/api/v1/sites/mine/").status_code == 200
    assert client.get("/api/v1/sites/theirs/").status_code == 404
    assert client.patch("/api/v1/sites/theirs/", {"name": "x"}, format="json").status_code == 404


def test_add_member(admin_client_api):
    site = SiteFactory(code="za")
    user = UserFactory()
    public_id = str(StaffProfile.objects.get(user=user).public_id)

    created = admin_client_api.post(
        "/api/v1/sites/za/members/",
        {"user": public_id, "role": "coordinator", "escalation_tier": 2},
        format="json",
    )
    again = admin_client_api.post(
        "/api/v1/sites/za/members/", {"user": public_id, "role": "clinician"}, format="json"
    )
    unknown = admin_client_api.post(
        "/api/v1/sites/za/members/", {"user": str(uuid.uuid4()), "role": "clinician"}, format="json"
    )
    bad_role = admin_client_api.post(
        "/api/v1/sites/za/members/", {"user": public_id, "role": "boss"}, format="json"
    )
    no_site = admin_client_api.post(
        "/api/v1/sites/nowhere/members/", {"user": public_id, "role": "clinician"}, format="json"
    )

    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in ("user", "site", "role", "escalation_tier")} == {
        "user": public_id,
        "site": "za",
        "role": "coordinator",
        "escalation_tier": 2,
    }
    assert [again.status_code, unknown.status_code, bad_role.status_code, no_site.status_code] == [
        409,
        400,
        400,
        404,
    ]
    assert list(SiteMembership.objects.values_list("user", "site", "role")) == [
        (user.pk, site.pk, "coordinator")
    ]


@pytest.mark.parametrize("rows", [1, 10])
def test_site_list_query_count_is_constant(admin_client_api, rows, django_assert_num_queries):
    for _ in range(rows):
        SiteFactory()

    with django_assert_num_queries(3):
        response = admin_client_api.get("/api/v1/sites/")

    assert len(response.json()["results"]) == rows


def test_admin_lists_staff_paginated_and_filtered_by_site(
    admin_client_api, django_assert_max_num_queries
):
    site, other = SiteFactory(code="cpt"), SiteFactory(code="dbn")
    a = MembershipFactory(site=site, user__username="a.member", escalation_tier=2)
    MembershipFactory(site=other, user=a.user)
    MembershipFactory(site=other, user__username="b.member")

    with django_assert_max_num_queries(5):
        everyone = admin_client_api.get("/api/v1/users/?page_size=2")
    at_cpt = admin_client_api.get("/api/v1/users/?site=cpt")

    assert everyone.status_code == 200
    page = everyone.json()
    assert [u["username"] for u in page["results"]] == ["a.member", "admin"]
    assert page["next"]
    rest = admin_client_api.get(page["next"]).json()["results"]
    assert [u["username"] for u in rest] == ["b.member"]
    assert at_cpt.json()["results"] == [
        {
            "id": str(a.user.staff_profile.public_id),
            "username": "a.member",
            "email": a.user.email,
            "phone": "",
            "is_active": True,
            "is_admin": False,
            "memberships": [
                {"site": "cpt", "role": a.role, "escalation_tier": 2},
                {"site": "dbn", "role": "clinician", "escalation_tier": 1},
            ],
        }
    ]
    assert admin_client_api.get("/api/v1/users/?site=nope").json()["results"] == []


def test_staff_listing_is_for_admins_only():
    member = MembershipFactory()

    assert staff_client(member.user).get("/api/v1/users/").status_code == 403


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("+27 82 123 4567", "+27821234567"),
        ("+27-82-123-4567", "+27821234567"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("082 123 4567", None),  # no country code
        ("+27 82 12", None),  # too short
        ("+999 123 4567", None),  # no such country code
    ],
)
def test_user_and_sms_channel_phones_follow_one_e164_rule(admin_client_api, phone, stored):
    user = admin_client_api.post(
        "/api/v1/users/",
        {"username": "p.user", "password": "a-Long-pass-4821", "email": "p@x.org", "phone": phone},
        format="json",
    )
    target = UserFactory()
    channel = admin_client_api.post(
        f"/api/v1/users/{target.staff_profile.public_id}/channels/",
        {"kind": "sms", "address": phone},
        format="json",
    )

    if stored is None:
        assert (user.status_code, channel.status_code) == (400, 400)
        assert list(user.json()["error"]["fields"]) == ["phone"]
        assert list(channel.json()["error"]["fields"]) == ["address"]
    else:
        assert (user.status_code, channel.status_code) == (201, 201)
        assert user.json()["phone"] == stored
        assert channel.json()["address"] == stored
        assert StaffProfile.objects.get(user__username="p.user").phone == stored


def test_add_channel_refuses_an_invalid_sms_number_outside_the_api():
    from notifications.recipients import add_channel
    from screening.phones import InvalidPhoneNumber

    user = UserFactory()
    with pytest.raises(InvalidPhoneNumber):
        add_channel(user=user, kind="sms", address="0821234567", actor=None)
    channel, _, _ = add_channel(user=user, kind="sms", address="+27 82 123 4567", actor=None)
    assert channel.address == "+27821234567"
