"""The OpenAPI schema describes the channels endpoint without errors or warnings."""

import io

from django.core.management import call_command


def test_schema_of_the_channels_endpoint_generates_cleanly(capsys):
    stdout = io.StringIO()

    call_command("spectacular", "--validate", stdout=stdout)

    # drf-spectacular prints its warnings and errors to the process's stderr.
    complaints = [line for line in capsys.readouterr().err.splitlines() if "notifications" in line]
    assert complaints == []
    assert "/api/v1/users/{user_id}/channels/:" in stdout.getvalue()
