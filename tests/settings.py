"""Settings for the test suite: the real PostgreSQL and Redis of the machine.

TEST_DATABASE_URL and TEST_REDIS_URL override the defaults below. pytest-django creates and drops
its own database (``test_<name>``) next to the one named here.
"""

import os

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

os.environ["DATABASE_URL"] = TEST_DATABASE_URL
os.environ["CELERY_BROKER_URL"] = TEST_REDIS_URL
os.environ["REDIS_URL"] = TEST_REDIS_URL
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
