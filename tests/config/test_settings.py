"""Production settings: secure by default, and refuse to start without a secret key."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_SECRET_KEY": "k" * 20 + "a-long-random-production-secret-0123456789-XYZ",
    "DJANGO_ALLOWED_HOSTS": "screening.example.org",
    "PATH": os.environ["PATH"],
}


def run_manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # runs manage.py in a subprocess
def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={**PRODUCTION_ENV, "VAR_DIR": str(tmp_path)},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow  # runs manage.py in a subprocess
def test_missing_secret_key_refuses_to_start_outside_debug(tmp_path):
    env = {**PRODUCTION_ENV, "VAR_DIR": str(tmp_path), "DATABASE_URL": "postgresql://db/prod"}
    del env["DJANGO_SECRET_KEY"]

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off" in result.stderr


@pytest.mark.slow  # runs manage.py in a subprocess
def test_manage_py_with_the_embedded_defaults_runs_in_development_mode(tmp_path):
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path)}

    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", env=env
    )

    assert (result.returncode, result.stdout.strip().splitlines()[-1]) == (0, "True")


def test_debug_is_off_unless_asked_for(settings):
    from config.settings import env_bool

    assert settings.DEBUG is False
    assert env_bool("SURELY_UNSET_VARIABLE") is False


@pytest.mark.slow  # runs manage.py in a subprocess
def test_openapi_schema_generates_without_warnings(tmp_path):
    result = run_manage(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "openapi: 3" in (tmp_path / "schema.yaml").read_text()
