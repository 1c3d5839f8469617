import pytest
from django.test import override_settings

from tests.support import free_port


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
        "worker_seen_at": None,
        "undeliverable_alerts": 0,
        "oldest_undeliverable_at": None,
    }


@pytest.mark.django_db
def test_readyz_says_when_a_worker_last_ran_the_heartbeat(api_client):
    from notifications.tasks import record_heartbeat

    record_heartbeat.apply()  # as a worker would, when beat sends it

    seen_at = api_client.get("/readyz").json()["worker_seen_at"]

    from notifications.models import WorkerHeartbeat

    assert seen_at == WorkerHeartbeat.objects.get().seen_at.isoformat()


@pytest.mark.slow
@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_while_redis_is_stopped_and_recovers(
    api_client, private_redis
):
    with override_settings(CELERY_BROKER_URL=private_redis.url):
        assert api_client.get("/readyz").status_code == 200

        private_redis.stop()
        down = api_client.get("/readyz")

        private_redis.start()
        up = api_client.get("/readyz")

    assert down.status_code == 503
    body = down.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"] == {"ok": True, "backend": "postgresql"}
    assert body["checks"]["broker"]["ok"] is False
    assert body["error"]["code"] == "unavailable"
    assert up.status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_naming_the_database_when_it_is_unreachable(api_client, monkeypatch):
    from django.db import connection
    from django.db.utils import ConnectionHandler

    from config import health

    # A real connection to a port where no PostgreSQL listens.
    settings = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(free_port())}
    unreachable = ConnectionHandler({"default": settings})["default"]
    check = health.check_database
    monkeypatch.setattr(health, "check_database", lambda: check(unreachable))

    response = api_client.get("/readyz")
    unreachable.close()

    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert response.json()["checks"]["database"] == {
        "ok": False,
        "backend": "postgresql",
        "error": "OperationalError",
    }
