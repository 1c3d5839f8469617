"""Staff issue activation codes; the phone exchanges one, once, for a subject token."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from screening.models import AccessToken, ActivationCode, AuditEvent, Subject
from screening.services.activation import hash_code, normalise_code
from tests.factories import SiteFactory, SubjectFactory, UserFactory, staff_client

ACTIVATE = "/api/v1/subject-auth/activate/"
INVALID_CODE = {
    "error": {
        "code": "invalid_code",
        "message": "This activation code is not valid. Ask your clinic for a new code.",
        "fields": {},
    }
}


def issue(client, subject) -> dict:
    response = client.post(f"/api/v1/subjects/{subject.pk}/activation-code/")
    assert response.status_code == 201, response.content
    return response.json()


def activate(code, client=None, ip="10.0.0.1"):
    return (client or APIClient()).post(ACTIVATE, {"code": code}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_issue_code_returns_code_and_expiry_and_stores_only_a_keyed_hash():
    site = SiteFactory()
    subject = SubjectFactory(site=site)
    staff = UserFactory(site=site)

    with time_machine.travel("2025-03-01T08:00:00Z", tick=False):
        body = issue(staff_client(staff), subject)

    assert body["expires_at"] == "2025-03-04T08:00:00Z"
    assert len(body["code"]) == 11 and body["code"][5] == "-"
    row = ActivationCode.objects.get(subject=subject)
    assert row.code_hash == hash_code(normalise_code(body["code"]))
    assert body["code"].replace("-", "") not in row.code_hash
    assert list(
        AuditEvent.objects.filter(object_id=str(row.pk)).values_list("action", "actor")
    ) == [("create", staff.pk)]


@pytest.mark.django_db
def test_activate_exchanges_the_code_for_a_subject_token():
    subject = SubjectFactory(study_id="S-0042", language="pt", timezone="Africa/Maputo")
    code = issue(staff_client(UserFactory(site=subject.site)), subject)["code"]

    response = activate(code.lower().replace("-", " "))  # typed loosely

    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == {
        "id": str(subject.pk),
        "study_id": "S-0042",
        "language": "pt",
        "timezone": "Africa/Maputo",
    }
    token = AccessToken.objects.get(subject=subject)
    assert token.user_id is None
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.get("/api/v1/me/").json()["id"] == str(subject.pk)


@pytest.mark.django_db
def test_code_is_single_use():
    subject = SubjectFactory()
    code = issue(staff_client(UserFactory(site=subject.site)), subject)["code"]
    assert activate(code).status_code == 200

    second = activate(code, ip="10.0.0.2")

    assert (second.status_code, second.json()) == (400, INVALID_CODE)
    assert AccessToken.objects.filter(subject=subject).count() == 1


@pytest.mark.django_db
def test_wrong_used_expired_and_superseded_codes_get_the_same_400():
    subject = SubjectFactory()
    staff_api = staff_client(UserFactory(site=subject.site))
    with time_machine.travel(timezone.now() - timedelta(hours=73)):
        expired = issue(staff_api, subject)["code"]
    superseded = issue(staff_api, subject)["code"]
    used = issue(staff_api, subject)["code"]
    assert activate(used, ip="10.0.0.9").status_code == 200

    answers = [
        activate(code, ip=f"10.0.1.{n}")
        for n, code in enumerate(["ABCDE-FGHJK", "nonsense", expired, superseded, used])
    ]

    assert [(r.status_code, r.json()) for r in answers] == [(400, INVALID_CODE)] * 5


@pytest.mark.django_db
def test_a_new_code_supersedes_the_unused_one():
    subject = SubjectFactory()
    staff_api = staff_client(UserFactory(site=subject.site))
    first = issue(staff_api, subject)["code"]
    second = issue(staff_api, subject)["code"]

    assert activate(first).status_code == 400
    assert activate(second).status_code == 200
    assert ActivationCode.objects.filter(subject=subject, superseded_at__isnull=False).count() == 1


@pytest.mark.django_db
def test_withdrawn_subject_gets_no_code_and_cannot_activate():
    subject = SubjectFactory()
    staff_api = staff_client(UserFactory(site=subject.site))
    code = issue(staff_api, subject)["code"]
    Subject.objects.filter(pk=subject.pk).update(status=Subject.Status.WITHDRAWN)

    assert activate(code).json() == INVALID_CODE
    response = staff_api.post(f"/api/v1/subjects/{subject.pk}/activation-code/")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "subject_withdrawn")


@pytest.mark.django_db
def test_repeated_failures_from_one_client_are_rate_limited_even_for_a_good_code():
    subject = SubjectFactory()
    code = issue(staff_client(UserFactory(site=subject.site)), subject)["code"]
    statuses = [activate("WRONG-CODE0", ip="10.0.0.7").status_code for _ in range(5)]

    blocked = activate(code, ip="10.0.0.7")
    other_client = activate(code, ip="10.0.0.8")

    assert statuses == [400] * 5
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "throttled"
    assert other_client.status_code == 200


@pytest.mark.django_db
def test_tries_of_an_old_code_lock_that_code_never_the_subjects_new_one():
    subject = SubjectFactory()
    staff_api = staff_client(UserFactory(site=subject.site))
    stale = issue(staff_api, subject)["code"]
    fresh = issue(staff_api, subject)["code"]
    statuses = [activate(stale, ip=f"10.0.2.{n}").status_code for n in range(6)]

    response = activate(fresh, ip="10.0.3.1")

    # 5 failures of that one code from any addresses, then it is locked (429) everywhere ...
    assert statuses == [400] * 5 + [429]
    # ... while the subject's valid new code still works.
    assert response.status_code == 200
    assert ActivationCode.objects.filter(subject=subject, used_at__isnull=False).count() == 1


@pytest.mark.django_db
def test_issued_and_invented_codes_get_the_same_answers():
    subject = SubjectFactory()
    staff_api = staff_client(UserFactory(site=subject.site))
    used = issue(staff_api, subject)["code"]
    assert activate(used, ip="10.0.5.250").status_code == 200
    superseded = issue(staff_api, subject)["code"]
    issue(staff_api, subject)

    def answers(code: str, net: int) -> list[tuple[int, dict]]:
        responses = [activate(code, ip=f"10.{net}.0.{n}") for n in range(7)]
        return [(response.status_code, response.json()) for response in responses]

    invented = answers("ZZZZZ-ZZZZZ", 6)

    assert answers(used, 7) == invented
    assert answers(superseded, 8) == invented
    assert [status for status, _ in invented] == [400] * 5 + [429] * 2
    assert invented[0][1] == INVALID_CODE


@pytest.mark.django_db
def test_attempts_beyond_the_failure_limit_stay_429():
    responses = [activate(f"ZZZZZ-ZZZZ{n}", ip="10.0.4.1").status_code for n in range(12)]

    # 5 failures are allowed per window, then 429 whatever the code.
    assert responses == [400] * 5 + [429] * 7


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"code": None}, {"code": ["A"]}, {"code": {"a": 1}}, []])
def test_activate_with_a_malformed_body_is_400(body):
    response = APIClient().post(ACTIVATE, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.django_db
def test_clinician_of_another_site_gets_404_for_code_and_revoke():
    subject = SubjectFactory()
    other = staff_client(UserFactory(site=SiteFactory()))

    for path in ("activation-code", "revoke-tokens"):
        response = other.post(f"/api/v1/subjects/{subject.pk}/{path}/")
        assert (path, response.status_code) == (path, 404)
    assert ActivationCode.objects.count() == 0


@pytest.mark.django_db
def test_staff_revoke_tokens_revokes_every_subject_token_and_is_audited():
    subject = SubjectFactory()
    staff = UserFactory(site=subject.site)
    keys = [AccessToken.issue(subject=subject)[1] for _ in range(2)]

    response = staff_client(staff).post(f"/api/v1/subjects/{subject.pk}/revoke-tokens/")

    assert (response.status_code, response.json()) == (200, {"revoked": 2})
    for key in keys:
        phone = APIClient()
        phone.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert phone.get("/api/v1/me/").status_code == 401
    event = AuditEvent.objects.get(object_id=str(subject.pk))
    assert (event.actor_id, event.changes) == (staff.pk, {"tokens_revoked": 2})


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_escape_the_failure_limit():
    # Without a configured proxy, the client address is REMOTE_ADDR: a header the client writes
    # itself must not give every attempt a fresh counter.
    statuses = [
        APIClient()
        .post(
            ACTIVATE,
            {"code": f"ZZZZZ-ZZZZ{n}"},
            REMOTE_ADDR="10.0.5.1",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
        .status_code
        for n in range(7)
    ]

    assert statuses == [400] * 5 + [429] * 2
