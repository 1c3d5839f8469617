"""Memory of the streamed CSV export: peak RSS exporting 10,000 and 100,000 responses.

Each export runs in a forked child process (GET /api/v1/exports/responses/ through the Django
test client, reading every byte of the stream); the parent reads the child's peak resident set
size from ``wait4``. Streaming keeps memory flat, so the 100k/10k ratio should stay near 1
(acceptance: under 1.5). The rows are inserted with one INSERT ... SELECT per site (a site per
size).
"""

import json
import os

from . import MemoryCase, memory_benchmark

SMALL, LARGE = 10_000, 100_000
RESPONSES_PER_SUBJECT = 100


def insert_responses(site, count: int) -> None:
    """Create ``count`` scored PHQ-9 responses at the site, 100 per subject, in bulk."""
    from django.db import connection
    from django.utils import timezone

    from questionnaires.scoring import score_definition
    from questionnaires.services import get_current_version
    from screening.models import Subject

    version = get_current_version("PHQ-9")
    assert version is not None, "instruments are loaded by migrate"
    subjects = count // RESPONSES_PER_SUBJECT
    Subject.objects.bulk_create(
        Subject(
            site=site,
            study_id=f"{site.code}-{n:05d}",
            timezone="UTC",
            treatment_start=timezone.localdate(),
        )
        for n in range(subjects)
    )
    answers = {f"phq9_{n}": n % 4 for n in range(1, 10)}
    answers["phq9_10"] = 1
    score = score_definition(version.definition, answers).as_dict()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO screening_response (
                id, subject_id, instrument_version_id, instrument_code, source, answers, score,
                valid, completed_at, received_at, request_hash, reply_body, created_at
            )
            SELECT gen_random_uuid(), s.id, %s, 'PHQ-9', 'paper', %s::jsonb, %s::jsonb, true,
                   now() - g * interval '1 minute', now(), '', '', now()
            FROM screening_subject s CROSS JOIN generate_series(1, %s) g
            WHERE s.site_id = %s
            """,
            [version.pk, json.dumps(answers), json.dumps(score), RESPONSES_PER_SUBJECT, site.pk],
        )


def peak_rss_kib(function) -> int:
    """Run ``function`` in a forked child; return the child's peak RSS in KiB."""
    from django.db import connections

    connections.close_all()  # the child opens its own connection
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            function()
        except BaseException:  # noqa: BLE001 - report any failure through the exit code
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("the export child failed (see its traceback above)")
    return usage.ru_maxrss  # KiB on Linux


def export_all(client, path: str, expected_rows: int):
    def run() -> None:
        response = client.get(path, HTTP_ACCEPT="text/csv")
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        lines = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\r\n")
        if lines - 1 != expected_rows:
            raise RuntimeError(f"exported {lines - 1} rows, expected {expected_rows}")

    return run


@memory_benchmark(f"CSV export of {SMALL:,} and {LARGE:,} responses (peak RSS)")
def responses_export() -> MemoryCase:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from screening.models import AccessToken, Site

    # One site per size, so other benchmarks' rows in the database are not counted.
    small = Site.objects.create(code="bench-small", name="bench small", timezone="UTC")
    large = Site.objects.create(code="bench-large", name="bench large", timezone="UTC")
    insert_responses(small, SMALL)
    insert_responses(large, LARGE)
    admin = get_user_model().objects.create_user(username="bench-export-admin", is_staff=True)
    _, key = AccessToken.issue(user=admin)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    return MemoryCase(
        small=(SMALL, export_all(client, "/api/v1/exports/responses/?site=bench-small", SMALL)),
        large=(LARGE, export_all(client, "/api/v1/exports/responses/?site=bench-large", LARGE)),
        measure=peak_rss_kib,
        limit=1.5,
    )
