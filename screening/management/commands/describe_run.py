"""Print where the running service can be reached and how to create the first admin user."""

import os
import shlex
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand


def masked_url(url: str) -> str:
    """The URL with its password (if any) replaced by a placeholder, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":<password>@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def createsuperuser_command(environ=os.environ, debug: bool | None = None) -> str:
    """The createsuperuser command line with the environment this run uses (same database)."""
    debug = settings.DEBUG if debug is None else debug
    env = []
    if debug and not environ.get("DJANGO_SECRET_KEY"):
        env.append("DJANGO_DEBUG=1")
    elif environ.get("DJANGO_SECRET_KEY"):
        env.append("DJANGO_SECRET_KEY=" + shlex.quote("<the same key>"))
    if environ.get("DATABASE_URL"):
        env.append(f"DATABASE_URL={shlex.quote(masked_url(environ['DATABASE_URL']))}")
    elif environ.get("VAR_DIR"):
        env.append(f"VAR_DIR={shlex.quote(environ['VAR_DIR'])}")  # where the SQLite file is
    return " ".join([*env, ".venv/bin/python manage.py createsuperuser"])


class Command(BaseCommand):
    help = "Print the service's addresses, its backends and how to create the first admin user."

    def handle(self, *args, **options):
        bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
        base = f"http://{bind}"
        database = settings.DATABASES["default"]
        if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
            email = f"written as files to {settings.EMAIL_FILE_PATH}/ (no EMAIL_HOST set)"
        else:
            email = f"SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
        lines = [
            "",
            "Cycloserine screening service: web (gunicorn), Celery worker and Celery beat.",
            f"  API docs:   {base}/api/docs/   (OpenAPI schema: {base}/api/v1/schema/)",
            f"  Admin:      {base}/admin/",
            f"  Desk:       {base}/desk/   (clinicians sign in with their username and password)",
            f"  Phones:     {base}/s/   (subjects activate with their one-time code)",
            f"  Probes:     {base}/healthz  {base}/readyz",
            f"  Database:   {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}",
            f"  Broker:     {settings.CELERY_BROKER_URL.split('://')[0]}",
            f"  Email:      {email}",
            f"  Debug mode: {'on (development)' if settings.DEBUG else 'off'}",
            "First admin user, in another terminal (same database as this run):",
            f"  {createsuperuser_command()}",
            "Ctrl-C stops all three processes.",
            "",
        ]
        self.stdout.write("\n".join(lines))
