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


@pytest.fixture
def scratch_database():
    """A PostgreSQL database of this test's own, dropped afterwards."""
    name = f"run_check_{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    admin_url = f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{admin_url}/{name}"
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def assert_service_ran(seen: dict, database: str, broker: str) -> None:
    assert "readyz" in seen, seen["log"][-3000:]
    assert seen["readyz"]["checks"] == {
        "database": {"ok": True, "backend": database},
        "broker": {"ok": True, "backend": broker},
    }
    assert seen["healthz"] == 200
    assert seen["docs"] == (200, True)
    assert seen["docs_script"] == 200
    assert seen["schema"] == 200
    for name in ("gunicorn", "celery -A config worker", "celery -A config beat"):
        assert name in seen["processes"], seen["log"][-3000:]
    assert seen["left_behind"] == []
    assert "http://127.0.0.1:" in seen["log"] and "/api/docs/" in seen["log"]
    assert "DJANGO_DEBUG=1 .venv/bin/python manage.py createsuperuser" in seen["log"]


@pytest.mark.slow
def test_run_command_with_embedded_defaults(tmp_path):
    seen = run_service(tmp_path, {})

    assert_service_ran(seen, database="sqlite", broker="filesystem")


@pytest.mark.slow
def test_run_command_with_postgresql_and_redis(tmp_path, scratch_database):
    seen = run_service(
        tmp_path,
        {"DATABASE_URL": scratch_database, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL},
    )

    assert_service_ran(seen, database="postgresql", broker="redis")
