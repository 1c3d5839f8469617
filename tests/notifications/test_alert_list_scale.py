"""The alert list's cost does not grow with other sites' alerts (index on site and time)."""

import pytest
from django.db import connection

from notifications.api.alerts import visible_alerts
from notifications.models import Alert
from screening.services.profiles import current_profile
from tests.factories import AlertFactory, SiteFactory, SubjectFactory, UserFactory, staff_client

pytestmark = pytest.mark.django_db


def many_alerts(site, count):
    subjects = [SubjectFactory(site=site) for _ in range(10)]
    profile = current_profile()
    Alert.objects.bulk_create(
        [
            Alert(
                subject=subjects[n % 10],
                site=site,
                profile=profile,
                category="discontinuation",
                severity="urgent",
                status="resolved",
            )
            for n in range(count)
        ],
        batch_size=1000,
    )


def test_an_alert_takes_its_subjects_site():
    alert = AlertFactory()

    assert alert.site_id == alert.subject.site_id


def test_a_sites_alert_page_reads_the_site_and_time_index_not_other_sites_alerts():
    mine, other = SiteFactory(code="mine"), SiteFactory(code="other")
    clinician = UserFactory(site=mine)
    many_alerts(mine, 60)
    many_alerts(other, 5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notifications_alert")

    page = visible_alerts(clinician).order_by("-created_at")[:51]
    plan = page.explain()

    assert "alert_site_created_idx" in plan, plan
    assert "Seq Scan on notifications_alert" not in plan, plan


def test_the_alert_list_query_count_does_not_grow_with_alerts(django_assert_num_queries):
    site = SiteFactory()
    client = staff_client(UserFactory(site=site))
    many_alerts(site, 5)
    client.get("/api/v1/alerts/")  # writes the token's last use
    # token, the user's site ids, page, evidence responses, evidence cmax
    with django_assert_num_queries(5) as few:
        assert len(client.get("/api/v1/alerts/").json()["results"]) == 5
    many_alerts(site, 200)
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/v1/alerts/").json()["results"]) == 50
