"""Without an SMTP server, emails are readable message files under var/mail/, not log lines."""

import os
import subprocess
import sys

import pytest
from django.test import override_settings

from notifications.transports.email import EmailTransport
from tests.conftest import ROOT
from tests.factories import DeliveryFactory


@pytest.mark.slow
def test_without_email_host_the_backend_writes_files_under_var_mail(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EMAIL_", "DJANGO_", "DATABASE_URL"))
    }
    env.update({"VAR_DIR": str(tmp_path), "DJANGO_DEBUG": "1"})
    code = (
        "from django.conf import settings; "
        "print(settings.EMAIL_BACKEND); print(settings.EMAIL_FILE_PATH)"
    )

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
            f"'config.settings'; django.setup(); {code}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert done.stdout.split() == [
        "django.core.mail.backends.filebased.EmailBackend",
        str(tmp_path / "mail"),
    ], done.stderr


@pytest.mark.django_db
def test_an_alert_email_in_development_is_a_plain_readable_message(tmp_path):
    delivery = DeliveryFactory()

    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
    ):
        EmailTransport().send(delivery)

    (written,) = (tmp_path / "mail").iterdir()
    text = written.read_text()
    assert f"To: {delivery.channel.address}" in text.splitlines()
    assert any(line.startswith("Subject: ") for line in text.splitlines())
    assert "\\n" not in text  # real line breaks, not an escaped JSON string
    assert delivery.alert.subject.study_id in text
