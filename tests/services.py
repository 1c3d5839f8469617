"""Check that the PostgreSQL and Redis the tests use are reachable; say how to start them if not.

Run as ``python -m tests.services`` (the test command does) and from conftest before any test.
"""

import os
import socket
import sys
from urllib.parse import urlparse

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": (
        "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
    ),
}


def unreachable_services() -> list[str]:
    """Return one message per service the tests need that does not accept connections."""
    targets = {
        "PostgreSQL": (os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL), 5432),
        "Redis": (os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL), 6379),
    }
    problems = []
    for name, (url, default_port) in targets.items():
        parsed = urlparse(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as exc:
            problems.append(
                f"{name} is not reachable at {host}:{port} ({exc.strerror or exc}).\n"
                f"  Start it with: {HOW_TO_START[name]}\n"
                f"  or point TEST_{'DATABASE' if name == 'PostgreSQL' else 'REDIS'}_URL at one."
            )
    return problems


def ensure_named_database() -> str | None:
    """Create the database TEST_DATABASE_URL names if missing (pytest uses test_<name> beside it).

    ``makemigrations --check`` in ``make test`` connects to it to check the migration history;
    without it Django warns "database ... does not exist" and the check is weaker.
    """
    from config.ensure_database import ensure_database

    return ensure_database(os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL))


def main() -> int:
    problems = unreachable_services()
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    if problems:
        return 1
    from config.ensure_database import DatabaseUnavailable

    try:
        created = ensure_named_database()
    except DatabaseUnavailable as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    if created:
        print(f'Created the database "{created}" that TEST_DATABASE_URL names.')
    return 0


if __name__ == "__main__":
    sys.exit(main())
