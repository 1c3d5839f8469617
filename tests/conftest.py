"""Fixtures shared by the whole suite."""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from tests.factories import staff_client
from tests.services import unreachable_services
from tests.support import PrivateRedis

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session):
    problems = unreachable_services()
    if problems:
        pytest.exit("\n".join(["The tests need real services:", *problems]), returncode=3)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with empty rate-limit counters (the cache is the test Redis)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(
        username="admin", password="admin-pass-123", email="admin@example.org"
    )


@pytest.fixture
def admin_client_api(admin_user) -> APIClient:
    return staff_client(admin_user)


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield client
    client.close()


class WorkerProcess:
    """A real Celery worker in a subprocess, against the test database and the test broker."""

    def __init__(self, log_path: Path, extra_env: dict | None = None, concurrency: int = 1):
        db = connection.settings_dict
        database_url = (
            f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        )
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "TEST_DATABASE_URL": database_url,
            "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
            **(extra_env or {}),
        }
        self.log_path = log_path
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "WorkerProcess":
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"ready." in self.log_path.read_bytes():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Celery worker did not start:\n{self.log_path.read_text()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        self._log.close()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def celery_worker(transactional_db, redis_client, tmp_path):
    """Start a real worker on an empty queue; stop it (and its children) afterwards."""
    redis_client.flushdb()
    worker = WorkerProcess(tmp_path / "worker.log").start()
    yield worker
    worker.stop()


@pytest.fixture
def start_worker(transactional_db, redis_client, tmp_path):
    """Start real workers with extra environment (e.g. the SMTP sink's port); stop them after."""
    redis_client.flushdb()
    workers: list[WorkerProcess] = []

    def start(extra_env: dict | None = None) -> WorkerProcess:
        log = tmp_path / f"worker-{len(workers)}.log"
        worker = WorkerProcess(log, extra_env=extra_env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own (``.url``, ``.stop()``, ``.start()``); stopped after."""
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path).start()
    yield server
    if server.running:
        server.stop()


@contextmanager
def celery_broker_at(url: str, *, cache: bool = False):
    """Point this process's Celery (settings and the live app) at another broker; restore after.

    With ``cache`` the Django cache moves to the same Redis too, as in a deployment where one Redis
    serves both. The live app's connection pools are set aside untouched (kombu shares them) and
    fresh ones are made for ``url``; they are closed and the old ones restored on exit.
    """
    from config.celery_app import app

    conf = app.conf
    saved = (conf.broker_url, conf.broker_write_url, app._pool, app.amqp._producer_pool)
    overrides: dict[str, object] = {"CELERY_BROKER_URL": url}
    if cache:
        overrides["CACHES"] = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
        }
    with override_settings(**overrides):
        app._pool = None
        app.amqp._producer_pool = None
        conf.broker_url = conf.broker_write_url = url
        try:
            yield app
        finally:
            if app._pool is not None:
                app._pool.force_close_all()
            conf.broker_url, conf.broker_write_url, app._pool, app.amqp._producer_pool = saved
