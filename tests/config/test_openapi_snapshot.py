"""The OpenAPI schema is exactly the committed snapshot: an API change is always deliberate.

``openapi.snapshot.yaml`` was generated at the commit before the reorganisation by concept and
proves that the reorganisation changed no path, parameter, schema or description. A change of the
API contract regenerates it (the command in the failure message) in the same commit, and says so
in docs/api.md.
"""

import difflib
from pathlib import Path

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.yaml")
UPDATE = (
    "DJANGO_SETTINGS_MODULE=tests.settings .venv/bin/python manage.py spectacular "
    "--validate --fail-on-warn --file tests/config/openapi.snapshot.yaml"
)


def current_schema() -> str:
    """Return the schema exactly as ``manage.py spectacular`` writes it."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenApiYamlRenderer().render(schema, renderer_context={}).decode()


def test_the_openapi_schema_is_the_committed_snapshot():
    current, snapshot = current_schema(), SNAPSHOT.read_text()

    diff = "".join(
        difflib.unified_diff(
            snapshot.splitlines(keepends=True),
            current.splitlines(keepends=True),
            "openapi.snapshot.yaml",
            "generated now",
            n=2,
        )
    )
    assert current == snapshot, (
        "The OpenAPI schema changed. If the API change is intended, update the snapshot with\n"
        f"  {UPDATE}\nand commit it with the change (and docs/api.md). The difference:\n"
        + diff[:6000]
    )


def test_the_snapshot_is_a_whole_schema():
    # Guards the comparison above against an empty or truncated snapshot.
    snapshot = SNAPSHOT.read_text()
    assert snapshot.startswith("openapi: 3")
    assert "/api/v1/alerts/{alert_id}/acknowledge/:" in snapshot
    assert "/api/v1/me/assessments/{assessment_id}/response/:" in snapshot
