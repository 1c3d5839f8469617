"""A first run on PostgreSQL creates its missing database; `make test` warns of none missing."""

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.conf import settings

from config.ensure_database import DatabaseUnavailable, ensure_database
from tests.conftest import ROOT
from tests.support import free_port


def server_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


@pytest.fixture
def database_name():
    name = f"ensure_check_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_creates_a_missing_database_once(database_name):
    url = f"{server_url()}/{database_name}"

    assert ensure_database(url) == database_name
    assert ensure_database(url) is None  # exists now: nothing to do
    psycopg.connect(url).close()


def test_sqlite_needs_nothing(tmp_path):
    assert ensure_database(f"sqlite:///{tmp_path / 'db.sqlite3'}") is None


def test_an_unreachable_server_is_one_clear_message():
    with pytest.raises(DatabaseUnavailable) as caught:
        ensure_database(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")

    message = str(caught.value)
    assert message.startswith("cannot connect to PostgreSQL at 127.0.0.1:")
    assert "\n" not in message


@pytest.mark.slow
def test_the_migration_check_of_make_test_prints_no_missing_database_warning(database_name):
    env = {
        **os.environ,
        "TEST_DATABASE_URL": f"{server_url()}/{database_name}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    services = subprocess.run(
        [sys.executable, "-m", "tests.services"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    check = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert services.returncode == 0, services.stderr
    assert (check.returncode, check.stdout.strip()) == (0, "No changes detected")
    assert "does not exist" not in check.stderr
    assert "Warning" not in check.stderr
