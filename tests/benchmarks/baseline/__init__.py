"""A minimal Django + DRF project, the HTTP benchmark's baseline (``tests.benchmarks.http``).

Two endpoints under the same gunicorn (2 sync workers) and PostgreSQL as the project: ``GET
/noop`` authenticates a bearer token by its SHA-256 (one SELECT) and answers ``{}``; ``POST
/insert`` does that and one INSERT. Whatever the project does beyond this is its own cost.
"""
