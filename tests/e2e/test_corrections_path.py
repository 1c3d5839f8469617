"""Issue 10 end to end with a real worker and SMTP sink: a Cmax typed as 80 instead of 8.0.

Through the HTTP API only: a staff PHQ-9 of 12 and a Cmax of 80 page the clinician about a dose
review (R1); the correction to 8.0 (with its reason) is evaluated by the worker, which turns the
open dose-review alert's advice into the below-range finding (B1), opens the clinical review (C1)
and messages the clinician again (the alert's next revision) that the evidence was withdrawn.
"""

import pytest

from notifications.models import Alert, Delivery
from tests.e2e.test_alert_path import (
    drain,
    post_cmax,
    post_staff_phq9,
    sent_deliveries,
    smtp_env,
)
from tests.factories import SiteFactory, SubjectFactory, UserFactory, staff_client
from tests.notifications.sinks import SmtpSink
from tests.support import wait_for

pytestmark = pytest.mark.worker


def test_correcting_80_to_8_is_evaluated_by_the_worker_and_pages_evidence_withdrawn(
    start_worker,
):
    site = SiteFactory(code="site-a")
    ana = UserFactory(site=site)
    subject = SubjectFactory(site=site, study_id="TB-0010")
    api = staff_client(ana)

    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        assert post_staff_phq9(api, subject, 12).status_code == 201
        wait_for(sent_deliveries(1))  # T1 first
        wrong = post_cmax(api, subject, "80", lab_reference="LAB-80")
        assert wrong.status_code == 201
        wait_for(sent_deliveries(2))  # R1
        corrected = api.post(
            f"/api/v1/subjects/{subject.pk}/cmax-results/{wrong.json()['id']}/correct/",
            {"value": "8.0", "unit": "ug/mL", "reason": "typed 80 for 8.0"},
            format="json",
        )
        assert corrected.status_code == 201
        # The dose-review alert's revision 1 (evidence withdrawn) and the new C1 alert.
        wait_for(sent_deliveries(4))
        drain()

    dose_review = Alert.objects.get(category="dose_review")
    assert (dose_review.status, dose_review.rules) == ("open", ["B1"])
    assert "Review the cycloserine dose for efficacy." in dose_review.recommended_actions
    (told,) = Delivery.objects.filter(alert=dose_review, revision=1)
    (email,) = [e for e in sink.received if e.message["X-Delivery-Id"] == str(told.pk)]
    assert email.rcpt_tos == [ana.email]
    body = email.message.get_payload(decode=True).decode()
    assert "Evidence withdrawn: Cmax 80.000" in body and "typed 80 for 8.0" in body
