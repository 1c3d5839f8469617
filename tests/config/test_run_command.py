"""The README's run command: web, worker and beat come up, answer, and all stop on Ctrl-C."""

import os
import signal
import subprocess
import time
import uuid

import psycopg
import pytest
import requests
from django.conf import settings

from tests.conftest import ROOT
from tests.support import free_port


def descendants(root: int) -> dict[int, str]:
    """Return {pid: command line} of every process below root."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    children: dict[int, list[tuple[int, str]]] = {}
    for line in out.splitlines():
        pid, ppid, *args = line.split(None, 2)
        children.setdefault(int(ppid), []).append((int(pid), args[0] if args else ""))
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for child, command in children.get(todo.pop(), []):
            found[child] = command
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def server_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


@pytest.fixture
def missing_database():
    """The URL of a PostgreSQL database that does not exist yet; dropped afterwards."""
    name = f"run_check_{uuid.uuid4().hex[:8]}"
    yield name, f"{server_url()}/{name}"
    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def role_without_createdb():
    """A PostgreSQL role that may log in but not create databases; dropped afterwards."""
    name = f"run_check_role_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN NOCREATEDB')
    yield name
    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def run_service(tmp_path, extra_env: dict) -> dict:
    """Start `make run`, probe it, press Ctrl-C; return what was seen."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "VAR_DIR": str(tmp_path / "var"),
        "WEB_BIND": f"127.0.0.1:{port}",
        **extra_env,
    }
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    seen: dict = {}
    tree: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = requests.get(f"{base}/readyz", timeout=10)
                if ready.status_code == 200:
                    seen["readyz"] = ready.json()
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.5)
        if "readyz" in seen:
            seen["healthz"] = requests.get(f"{base}/healthz", timeout=5).status_code
            docs = requests.get(f"{base}/api/docs/", timeout=5)
            seen["docs"] = (docs.status_code, "swagger-ui" in docs.text)
            script = requests.get(
                f"{base}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
                timeout=5,
            )
            seen["docs_script"] = script.status_code
            seen["schema"] = requests.get(f"{base}/api/v1/schema/", timeout=10).status_code
            # gunicorn's control socket is this run's own (under VAR_DIR), not one per machine.
            seen["control_socket"] = (tmp_path / "var" / "gunicorn.ctl").is_socket()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                tree = descendants(proc.pid)
                running = " ".join(tree.values())
                if all(p in running for p in ("gunicorn", "worker", "beat")):
                    break
                time.sleep(0.5)
            seen["processes"] = running
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    deadline = time.monotonic() + 20  # a warm shutdown finishes the task in hand first
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.5)
    seen["left_behind"] = [args for pid, args in tree.items() if alive(pid)]
    seen["log"] = (tmp_path / "run.log").read_text(errors="replace")
    return seen


def assert_service_ran(seen: dict, database: str, broker: str, createsuperuser: str) -> None:
    assert "readyz" in seen, seen["log"][-3000:]
    assert seen["readyz"]["checks"] == {
        "database": {"ok": True, "backend": database},
        "broker": {"ok": True, "backend": broker},
    }
    assert seen["healthz"] == 200
    assert seen["docs"] == (200, True)
    assert seen["docs_script"] == 200
    assert seen["schema"] == 200
    assert seen["control_socket"] is True
    for name in ("gunicorn", "celery -A config worker", "celery -A config beat"):
        assert name in seen["processes"], seen["log"][-3000:]
    assert seen["left_behind"] == []
    assert "http://127.0.0.1:" in seen["log"] and "/api/docs/" in seen["log"]
    assert f"\n  {createsuperuser}\n" in seen["log"]


@pytest.mark.slow
def test_run_command_with_embedded_defaults(tmp_path):
    seen = run_service(tmp_path, {})

    assert_service_ran(
        seen,
        database="sqlite",
        broker="filesystem",
        createsuperuser=(
            f"DJANGO_DEBUG=1 VAR_DIR={tmp_path / 'var'} .venv/bin/python manage.py createsuperuser"
        ),
    )
    assert f"Email:      written as files to {tmp_path / 'var' / 'mail'}/" in seen["log"]


@pytest.mark.slow
def test_run_command_with_postgresql_and_redis_creates_a_missing_database(
    tmp_path, missing_database
):
    name, url = missing_database
    seen = run_service(
        tmp_path, {"DATABASE_URL": url, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    )

    assert f'Created the PostgreSQL database "{name}" (it did not exist).' in seen["log"]
    assert_service_ran(
        seen,
        database="postgresql",
        broker="redis",
        createsuperuser=(
            f"DJANGO_DEBUG=1 DATABASE_URL={url} .venv/bin/python manage.py createsuperuser"
        ),
    )


@pytest.mark.slow
def test_run_command_says_in_one_line_how_to_create_a_database_it_may_not_create(
    tmp_path, role_without_createdb
):
    db = settings.DATABASES["default"]
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    url = f"postgresql://{role_without_createdb}@{host}:{port}/run_check_cannot"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": url,
    }

    done = subprocess.run(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("make run:")]
    assert ours == [
        f'make run: database "run_check_cannot" does not exist at {host}:{port} and could not be '
        "created (permission denied to create database); create it as a PostgreSQL superuser: "
        f"createdb -h {host} -p {port} -U postgres -O {role_without_createdb} run_check_cannot"
    ]
    assert "Traceback" not in done.stdout + done.stderr
    assert "migrate" not in done.stdout
