"""Who may see data and receive alerts is audited: users, sites and memberships."""

import pytest

from screening.models import AuditEvent, Site

pytestmark = pytest.mark.django_db


def audit_trail() -> list[tuple[str, str, dict]]:
    return [
        (event.action, event.object_type, event.changes)
        for event in AuditEvent.objects.order_by("at", "id")
    ]


def test_creating_a_user_a_site_and_a_membership_and_changing_the_site_is_audited(
    admin_client_api,
):
    user = admin_client_api.post(
        "/api/v1/users/",
        {"username": "dr-ana", "password": "a-long-pass-phrase-9", "email": "ana@example.org"},
        format="json",
    ).json()
    admin_client_api.post(
        "/api/v1/sites/",
        {"code": "cpt", "name": "Cape Town", "timezone": "Africa/Johannesburg"},
        format="json",
    )
    admin_client_api.post(
        "/api/v1/sites/cpt/members/",
        {"user": user["id"], "role": "clinician", "escalation_tier": 1},
        format="json",
    )
    admin_client_api.patch(
        "/api/v1/sites/cpt/", {"crisis_message": "Call 0800 12 13 14"}, format="json"
    )

    assert audit_trail() == [
        ("create", "auth.User", {"username": "dr-ana", "public_id": user["id"]}),
        (
            "create",
            "screening.Site",
            {"code": "cpt", "name": "Cape Town", "timezone": "Africa/Johannesburg"},
        ),
        (
            "create",
            "screening.SiteMembership",
            {"user": user["id"], "site": "cpt", "role": "clinician", "escalation_tier": 1},
        ),
        (
            "update",
            "screening.Site",
            {"crisis_message": {"old": "", "new": "Call 0800 12 13 14"}},
        ),
    ]
    assert Site.objects.get().crisis_message == "Call 0800 12 13 14"
