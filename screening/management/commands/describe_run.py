"""Print where the running service can be reached and how to create the first admin user."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print the service's addresses, its backends and how to create the first admin user."

    def handle(self, *args, **options):
        bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
        base = f"http://{bind}"
        database = settings.DATABASES["default"]
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
            f"  Debug mode: {'on (development)' if settings.DEBUG else 'off'}",
            "First admin user, in another terminal: "
            + ("DJANGO_DEBUG=1 " if settings.DEBUG else "")
            + ".venv/bin/python manage.py createsuperuser",
            "Ctrl-C stops all three processes.",
            "",
        ]
        self.stdout.write("\n".join(lines))
