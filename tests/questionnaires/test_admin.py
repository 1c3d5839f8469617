"""The instrument version admin (questionnaires/admin.py): visible, never editable."""

import json

import pytest
from django.test import Client
from django.utils.html import escape

from questionnaires.models import InstrumentVersion

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/questionnaires/instrumentversion/"


@pytest.fixture
def admin_browser(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_changelist_shows_every_version(admin_browser):
    response = admin_browser.get(CHANGELIST)

    assert response.status_code == 200
    rows = [(row.code, row.version, row.kind) for row in response.context["cl"].result_list]
    assert rows == [
        ("BPNS", 1, "clinician"),
        ("GAD-7", 1, "self_report"),
        ("NEURO-SX", 2, "self_report"),
        ("NEURO-SX", 1, "self_report"),
        ("PHQ-9", 1, "self_report"),
    ]
    assert response.context["cl"].list_display == ["code", "version", "kind", "created_at"]


def test_change_page_is_read_only_with_a_pretty_definition(admin_browser):
    version = InstrumentVersion.objects.get(code="GAD-7")

    response = admin_browser.get(f"{CHANGELIST}{version.pk}/change/")

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert response.context["adminform"].form.fields == {}
    pretty = json.dumps(version.definition, indent=2, ensure_ascii=False)
    assert f'<pre style="white-space: pre-wrap">{escape(pretty)}</pre>' in response.content.decode()


def test_versions_cannot_be_added_changed_or_deleted(admin_browser):
    version = InstrumentVersion.objects.get(code="PHQ-9")
    before = InstrumentVersion.objects.values_list("code", "version", "checksum").get(pk=version.pk)

    add = admin_browser.get(f"{CHANGELIST}add/")
    change = admin_browser.post(f"{CHANGELIST}{version.pk}/change/", {"code": "X", "version": 9})
    delete = admin_browser.post(f"{CHANGELIST}{version.pk}/delete/", {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert (
        InstrumentVersion.objects.values_list("code", "version", "checksum").get(pk=version.pk)
        == before
    )
