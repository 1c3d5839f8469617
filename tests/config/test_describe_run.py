"""The start-up banner's createsuperuser line carries the environment the run uses."""

import pytest

from screening.management.commands.describe_run import createsuperuser_command, masked_url


@pytest.mark.parametrize(
    ("environ", "debug", "expected"),
    [
        ({}, True, "DJANGO_DEBUG=1 .venv/bin/python manage.py createsuperuser"),
        (
            {"VAR_DIR": "/srv/var"},
            True,
            "DJANGO_DEBUG=1 VAR_DIR=/srv/var .venv/bin/python manage.py createsuperuser",
        ),
        (
            {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/screening"},
            True,
            "DJANGO_DEBUG=1 DATABASE_URL=postgresql://postgres@127.0.0.1:5432/screening "
            ".venv/bin/python manage.py createsuperuser",
        ),
        (
            {
                "DATABASE_URL": "postgresql://app:s3cret@db:5432/screening",
                "DJANGO_SECRET_KEY": "k",
            },
            False,
            "DJANGO_SECRET_KEY='<the same key>' "
            "DATABASE_URL='postgresql://app:<password>@db:5432/screening' "
            ".venv/bin/python manage.py createsuperuser",
        ),
    ],
)
def test_createsuperuser_command_uses_the_same_database(environ, debug, expected):
    assert createsuperuser_command(environ, debug=debug) == expected


def test_a_password_in_the_database_url_is_never_printed():
    assert "s3cret" not in masked_url("postgresql://app:s3cret@db/screening")
    assert masked_url("postgresql://app@db/screening") == "postgresql://app@db/screening"
