"""Tests for screening/api/profiles.py: GET/POST /api/v1/monitoring-profiles/ (admins)."""

import pytest

from screening.models import EvaluationRequest, MonitoringProfile
from tests.factories import SiteFactory, SubjectFactory, UserFactory, staff_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/monitoring-profiles/"


def test_post_creates_the_next_version_from_the_current_one(admin_client_api, admin_user):
    subject = SubjectFactory()

    response = client_post(admin_client_api, {"cmax_ceiling_source": "label"})

    assert response.status_code == 201
    new = MonitoringProfile.objects.get(version=2)
    assert response.json() == {
        "id": str(new.pk),
        "drug": "cycloserine",
        "name": "cycloserine, WHO 2014",
        "version": 2,
        "phq9_positive": 10,
        "gad7_positive": 10,
        "phq9_severe": 20,
        "d3_score": 15,
        "neuropathy_grade_positive": 1,
        "cmax_ceiling": "30.00",  # the label's ceiling, since only the source was given
        "cmax_ceiling_source": "label",
        "lookback_days": 14,
        "bpns_window_days": 28,
        "cmax_recency_days": 28,
        "pyridoxine_flag_mg": 200,
        "escalation_minutes": 30,
        "high_escalation_minutes": 240,
        "recommended_actions": {},
        "created_by": str(admin_user.staff_profile.public_id),
        "created_at": response.json()["created_at"],
        "evaluations_requested": 1,
    }
    assert EvaluationRequest.objects.get().subject == subject


def client_post(client, data):
    return client.post(URL, data, format="json")


def test_versions_are_immutable(admin_client_api):
    profile = MonitoringProfile.objects.get()
    detail = f"{URL}{profile.pk}/"

    responses = [
        admin_client_api.patch(detail, {"cmax_ceiling": "30"}, format="json"),
        admin_client_api.put(detail, {"cmax_ceiling": "30"}, format="json"),
        admin_client_api.delete(detail),
    ]

    assert [r.status_code for r in responses] == [405, 405, 405]
    assert admin_client_api.get(detail).json()["cmax_ceiling"] == "35.00"


def test_only_admins_may_read_or_create_profiles():
    clinician = staff_client(UserFactory(site=SiteFactory()))

    assert clinician.get(URL).status_code == 403
    assert client_post(clinician, {"phq9_positive": 9}).status_code == 403
    assert MonitoringProfile.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"cmax_ceiling": "0"}, "cmax_ceiling"),
        ({"cmax_ceiling": "NaN"}, "cmax_ceiling"),
        ({"cmax_ceiling_source": "blog"}, "cmax_ceiling_source"),
        ({"phq9_positive": 28}, "phq9_positive"),
        ({"lookback_days": 0}, "lookback_days"),
        ({"drug": "Cyclo serine"}, "drug"),
        ({"recommended_actions": {"bpns_exam_action": "{oops}"}}, "recommended_actions"),
        ({"recommended_actions": "text"}, "recommended_actions"),
    ],
)
def test_post_invalid_fields_is_a_400(admin_client_api, data, field):
    response = client_post(admin_client_api, data)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert MonitoringProfile.objects.count() == 1


def test_post_a_new_drug_starts_at_version_1(admin_client_api):
    response = client_post(admin_client_api, {"drug": "linezolid", "name": "linezolid, test"})

    assert response.status_code == 201
    assert (response.json()["drug"], response.json()["version"]) == ("linezolid", 1)


@pytest.mark.parametrize("versions", [1, 6])
def test_list_query_count_stays_constant(admin_client_api, versions, django_assert_num_queries):
    for number in range(versions - 1):
        client_post(admin_client_api, {"lookback_days": 10 + number})

    # token, token last use, page
    with django_assert_num_queries(3):
        response = admin_client_api.get(URL)

    assert [r["version"] for r in response.json()["results"]] == list(range(versions, 0, -1))


@pytest.mark.parametrize("drug", ["%00", "a%00b", "x" * 10000])
def test_list_with_an_odd_drug_filter_is_empty_not_a_500(admin_client_api, drug):
    response = admin_client_api.get(f"/api/v1/monitoring-profiles/?drug={drug}")

    assert (response.status_code, response.json()["results"]) == (200, [])
