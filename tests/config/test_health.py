import shutil
import socket
import subprocess
import time

import pytest
from django.test import override_settings

from tests.conftest import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, so stopping it disturbs no one else."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        proc = None

        def start(self):
            self.proc = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
            )
            wait_for(lambda: _accepts(port), timeout=10, interval=0.05)

        def stop(self):
            self.proc.terminate()
            self.proc.wait(10)

    server = Server()
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def test_healthz_answers_200(api_client):
    response = api_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_names_the_backends_it_checked(api_client):
    response = api_client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"ok": True, "backend": "postgresql"},
            "broker": {"ok": True, "backend": "redis"},
        },
    }


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_while_redis_is_stopped_and_recovers(
    api_client, private_redis
):
    with override_settings(CELERY_BROKER_URL=private_redis.url):
        assert api_client.get("/readyz").status_code == 200

        private_redis.stop()
        started = time.monotonic()
        down = api_client.get("/readyz")
        elapsed = time.monotonic() - started

        private_redis.start()
        up = api_client.get("/readyz")

    assert down.status_code == 503
    body = down.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"] == {"ok": True, "backend": "postgresql"}
    assert body["checks"]["broker"]["ok"] is False
    assert body["error"]["code"] == "unavailable"
    assert elapsed < 15  # a probe must answer, not hang
    assert up.status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_naming_the_database_when_it_is_unreachable(api_client, monkeypatch):
    from config import health

    def broken():
        return {"ok": False, "backend": "postgresql", "error": "OperationalError"}

    monkeypatch.setattr(health, "check_database", broken)

    response = api_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
