"""Tests for screening/admin_tdm.py: saving a profile in the admin stores a new version."""

from decimal import Decimal

import pytest
from django.test import Client

from screening.models import EvaluationRequest, MonitoringProfile
from screening.services.profiles import PROFILE_FIELDS
from tests.factories import CmaxResultFactory, SubjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def form_data(profile: MonitoringProfile, **changes) -> dict:
    data = {name: getattr(profile, name) for name in PROFILE_FIELDS}
    data["recommended_actions"] = "{}"
    data.update(changes)
    return data


def test_saving_a_profile_in_the_admin_creates_the_next_version(admin_site_client, admin_user):
    subject = SubjectFactory()
    first = MonitoringProfile.objects.get()

    response = admin_site_client.post(
        f"/admin/screening/monitoringprofile/{first.pk}/change/",
        form_data(first, cmax_ceiling="30", cmax_ceiling_source="label"),
    )

    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.version, first.cmax_ceiling) == (1, Decimal("35.00"))
    second = MonitoringProfile.objects.get(version=2)
    assert (second.cmax_ceiling, second.cmax_ceiling_source, second.created_by) == (
        Decimal("30.00"),
        "label",
        admin_user,
    )
    assert list(EvaluationRequest.objects.values_list("subject", "reason")) == [
        (subject.pk, "profile")
    ]


def test_the_admin_refuses_action_texts_with_unknown_placeholders(admin_site_client):
    first = MonitoringProfile.objects.get()

    response = admin_site_client.post(
        f"/admin/screening/monitoringprofile/{first.pk}/change/",
        form_data(first, recommended_actions='{"bpns_exam_action": "{weeks}"}'),
    )

    assert response.status_code == 200  # the form again, with the error
    assert MonitoringProfile.objects.count() == 1


def test_cmax_results_are_read_only_in_the_admin(admin_site_client):
    result = CmaxResultFactory(subject=SubjectFactory(), value="38")

    assert admin_site_client.get("/admin/screening/cmaxresult/add/").status_code == 403
    page = admin_site_client.get(f"/admin/screening/cmaxresult/{result.pk}/change/")
    assert page.status_code == 200
    assert b'name="value"' not in page.content
