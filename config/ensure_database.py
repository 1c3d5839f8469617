"""Create the PostgreSQL database that DATABASE_URL names when it does not exist yet.

``make run`` runs ``python -m config.ensure_database`` before ``migrate``: on the PostgreSQL
path a first run needs no manual ``createdb``. When the database cannot be created (the user may
not create databases, or the server is not reachable) it stops with one line that says what to
run. SQLite (the embedded default) needs nothing: its file is created by ``migrate``.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

import dj_database_url


class DatabaseUnavailable(Exception):
    """The database is missing and could not be created, or the server cannot be reached."""


def ensure_database(url: str) -> str | None:
    """Create the PostgreSQL database of url if missing; return its name if created, else None.

    Raises DatabaseUnavailable with a one-line message saying what to do.
    """
    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        return None
    import psycopg
    from psycopg import sql

    name = str(config["NAME"])
    host, port = str(config.get("HOST") or "127.0.0.1"), int(config.get("PORT") or 5432)
    user = str(config.get("USER") or "")
    params: dict[str, Any] = {
        "host": host,
        "port": port,
        "user": user or None,
        "password": config.get("PASSWORD") or None,
        "connect_timeout": 10,
    }
    where = f"{host}:{port}"
    try:
        psycopg.connect(dbname=name, **params).close()
        return None
    except psycopg.OperationalError as exc:
        if getattr(exc, "sqlstate", None) != "3D000" and "does not exist" not in str(exc):
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {where} as {user or 'default user'}: {reason}"
            ) from None
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        return None  # created meanwhile by someone else
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        owner = f" -O {shlex.quote(user)}" if user else ""
        command = (
            f"createdb -h {shlex.quote(host)} -p {port} -U postgres{owner} {shlex.quote(name)}"
        )
        raise DatabaseUnavailable(
            f'database "{name}" does not exist at {where} and could not be created ({reason}); '
            f"create it as a PostgreSQL superuser: {command}"
        ) from None
    return name


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return 0
    try:
        created = ensure_database(url)
    except DatabaseUnavailable as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    if created:
        print(f'Created the PostgreSQL database "{created}" (it did not exist).')
    return 0


if __name__ == "__main__":
    sys.exit(main())
