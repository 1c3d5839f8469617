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
        "phone": "+27 82 000 0000",
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
