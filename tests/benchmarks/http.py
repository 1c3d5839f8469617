"""HTTP load benchmark: the project against a minimal Django + DRF baseline, interleaved.

Both run under gunicorn with 2 sync workers on this machine's PostgreSQL (and, for the project,
Redis); ``wrk`` (Debian package ``wrk``) drives 16 connections for a few seconds per case, the
project's case and its baseline taking turns round after round, so both see the same machine.
Each row gives the project's requests/s, the baseline's from the same rounds (medians) and the
ratio. Targets (issue 14): writes >= 0.5x the one-INSERT baseline, reads >= 0.5x the no-op one,
and the alert list as fast with 10,000 alerts at the site as with 100.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONNECTIONS = 16
THREADS = 2
WORKERS = 2
# Request numbers reserved per run of a script (more than any run sends).
RUN_STRIDE = 5000


@dataclass
class HttpCase:
    name: str
    server: str  # "project" or "baseline"
    path: str
    script: str = ""  # wrk Lua script (a request generator), or "" for a plain GET
    token: str = ""
    base: int = 0  # first request number of the next run (scripts only)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    raise SystemExit(
        "The HTTP benchmark needs wrk (Debian: apt-get install -y wrk); `make bench` installs it."
    )


def start_gunicorn(app: str, env: dict, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn"]
    if app == "config.wsgi":
        command += ["-c", "config/gunicorn.conf.py"]
    command += [app, "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS)]
    command += ["--access-logfile", "-"]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    raise SystemExit(f"gunicorn {app} did not start:\n{log.read_text()[-3000:]}")


def terminate_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_wrk(port: int, case: HttpCase, duration: float, workdir: Path) -> tuple[float, float, int]:
    """Return (requests/s, p50 latency ms, non-2xx count) of one wrk run."""
    command = [
        wrk_path(),
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {case.token}",
    ]
    if case.script:
        script = workdir / f"{re.sub(r'[^a-z0-9]+', '-', case.name.lower())}-{case.server}.lua"
        script.write_text(case.script.replace("BASE", str(case.base)))
        case.base += RUN_STRIDE
        command += ["-s", str(script)]
    command.append(f"http://127.0.0.1:{port}{case.path}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    out = done.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise SystemExit(f"wrk failed for {case.name}:\n{out}\n{done.stderr}")
    rate = float(found.group(1))
    if os.environ.get("BENCH_DEBUG"):
        print(case.name, out, done.stderr, file=sys.stderr)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1000.0}[p50.group(2)] if p50 else 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, float(p50.group(1)) * scale if p50 else 0.0, int(non2xx.group(1)) if non2xx else 0


def lua_rotating(lines: list[str], method: str, body_template: str, path_template: str) -> str:
    """A wrk script sending one request per line of ``lines`` (fields split on spaces), in turn.

    ``{1}``, ``{2}`` ... in the templates are the line's fields; ``{n}`` a request counter.
    """
    rows_file = Path(tempfile.mkstemp(prefix="wrk-rows-", suffix=".txt")[1])
    rows_file.write_text("\n".join(lines) + "\n")

    def lua(template: str) -> str:
        parts = re.split(r"(\{\d+\}|\{n\})", template)
        out = []
        for part in parts:
            if part == "{n}":
                out.append("tostring(n)")
            elif re.fullmatch(r"\{\d+\}", part):
                out.append(f"row[{part[1:-1]}]")
            elif part:
                out.append('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"')
        return " .. ".join(out) or '""'

    # BASE is replaced before each run (run_wrk): every run, and each of wrk's threads, uses
    # rows (and request numbers) no other run used.
    return f"""
local rows = {{}}
for line in io.lines("{rows_file}") do
  local fields = {{}}
  for field in string.gmatch(line, "%S+") do table.insert(fields, field) end
  table.insert(rows, fields)
end
local created = 0
function setup(thread)
  thread:set("tid", created)
  created = created + 1
end
local counter = 0
request = function()
  local n = BASE + counter * {THREADS} + tid
  counter = counter + 1
  local row = rows[(n % #rows) + 1]
  local headers = {{}}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. row[1]
  headers["Idempotency-Key"] = "k" .. tostring(n)
  return wrk.format("{method}", {lua(path_template)}, headers, {lua(body_template)})
end
"""


def seed_project(alerts_small, alerts_large):
    """Create the project's data; return the cases (and the tokens they use)."""
    from datetime import timedelta

    from django.utils import timezone

    from notifications.models import Alert
    from screening.models import AccessToken, Assessment
    from screening.services.profiles import current_profile
    from tests.factories import (
        PHQ9_ZERO,
        ScheduleEntryFactory,
        SiteFactory,
        SubjectFactory,
        UserFactory,
    )

    now = timezone.now()
    profile = current_profile()

    def site_with_alerts(code, count, others):
        site = SiteFactory(code=code)
        clinician = UserFactory(username=f"{code}-clinician", site=site)
        _, staff_key = AccessToken.issue(user=clinician)
        subjects = [SubjectFactory(site=site) for _ in range(20)]
        Alert.objects.bulk_create(
            [
                Alert(
                    subject=subjects[n % 20],
                    site=site,
                    profile=profile,
                    category="clinical_review",
                    severity="routine",
                    status="resolved",
                    rules=["C1"],
                    reasons=[{"rule": "C1", "text": "PHQ-9 total 12 (>= 10)", "inputs": {}}],
                    created_at=now - timedelta(minutes=n),
                )
                for n in range(count)
            ],
            batch_size=2000,
        )
        return site, staff_key, subjects

    # Many other sites' alerts: the list must not care.
    site_with_alerts("bench-other", 0, 0)
    other_site = SiteFactory(code="bench-crowd")
    crowd = [SubjectFactory(site=other_site) for _ in range(20)]
    Alert.objects.bulk_create(
        [
            Alert(
                subject=crowd[n % 20],
                site=other_site,
                profile=profile,
                category="clinical_review",
                severity="routine",
                status="resolved",
                created_at=now - timedelta(seconds=n),
            )
            for n in range(50_000)
        ],
        batch_size=5000,
    )
    small_site, small_key, _ = site_with_alerts("bench-small", alerts_small, 0)
    large_site, large_key, subjects = site_with_alerts("bench-large", alerts_large, 0)

    # Phones: a subject to read, and subjects with many open PHQ-9 assessments to submit to.
    reader = subjects[0]
    entry = ScheduleEntryFactory(schedule__site=large_site, instrument_code="PHQ-9")
    Assessment.objects.bulk_create(
        [
            Assessment(
                subject=reader,
                schedule_entry=entry,
                occurrence=n,
                instrument_code="PHQ-9",
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(hours=71),
                status="open",
            )
            for n in range(13)
        ]
    )
    _, reader_key = AccessToken.issue(subject=reader)
    submit_lines = []
    for subject in subjects[1:]:
        _, key = AccessToken.issue(subject=subject)
        rows = Assessment.objects.bulk_create(
            [
                Assessment(
                    subject=subject,
                    schedule_entry=entry,
                    occurrence=n,
                    instrument_code="PHQ-9",
                    opens_at=now - timedelta(hours=1),
                    closes_at=now + timedelta(hours=71),
                    status="open",
                )
                for n in range(2000)
            ]
        )
        submit_lines += [f"{key} {row.pk}" for row in rows]
    cmax_subject = subjects[1]
    import json

    answers = json.dumps({"answers": PHQ9_ZERO})
    submission = lua_rotating(submit_lines, "POST", answers, "/api/v1/me/assessments/{2}/response/")
    cmax_body = (
        '{"value": "20", "unit": "mg/L", "sampled_at": "'
        + (now - timedelta(hours=3)).isoformat()
        + '", "hours_post_dose": "2", "lab_reference": "L-{n}"}'
    )
    cmax = lua_rotating(
        [large_key], "POST", cmax_body, f"/api/v1/subjects/{cmax_subject.pk}/cmax-results/"
    )
    return {
        "submission": HttpCase("POST me/assessments/{id}/response/", "project", "/", submission),
        "cmax": HttpCase("POST subjects/{id}/cmax-results/", "project", "/", cmax),
        "me": HttpCase("GET me/", "project", "/api/v1/me/", token=reader_key),
        "assessments": HttpCase(
            "GET me/assessments/", "project", "/api/v1/me/assessments/", token=reader_key
        ),
        "alerts_small": HttpCase(
            f"GET alerts/ ({alerts_small} at the site)",
            "project",
            "/api/v1/alerts/",
            token=small_key,
        ),
        "alerts_large": HttpCase(
            f"GET alerts/ ({alerts_large:,} at the site)",
            "project",
            "/api/v1/alerts/",
            token=large_key,
        ),
    }


def seed_baseline(env: dict) -> str:
    """Create the baseline's tables and one token; return the clear token."""
    import hashlib

    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--run-syncdb", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    token = "baseline-token-0123456789"
    code = (
        "from tests.benchmarks.baseline.models import Token;"
        f"Token.objects.get_or_create(key_hash='{hashlib.sha256(token.encode()).hexdigest()}')"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True
    )
    return token


def database_url(settings_dict: dict, name: str) -> str:
    user = settings_dict["USER"] or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict["HOST"] or "127.0.0.1"
    return f"postgresql://{user}{password}@{host}:{settings_dict['PORT'] or 5432}/{name}"


def run_http(rounds: int = 3, duration: float = 5.0) -> list[tuple[str, str, str, str, str]]:
    """Run the HTTP cases (Django already set up on the benchmark database); return table rows."""
    import psycopg
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    baseline_db = f"{db['NAME']}_baseline"
    admin_url = database_url(db, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{baseline_db}"')
        admin.execute(f'CREATE DATABASE "{baseline_db}"')
    workdir = Path(tempfile.mkdtemp(prefix="http-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        cases = seed_project(alerts_small=100, alerts_large=10_000)
        connection.close()
        redis_url = settings.CELERY_BROKER_URL
        project_env = {
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_URL": database_url(db, db["NAME"]),
            "CELERY_BROKER_URL": redis_url,
            "REDIS_URL": redis_url,
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "STAFF_LOGIN_RATE": "100000/min",
            "VAR_DIR": str(workdir),
        }
        baseline_env = {
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "tests.benchmarks.baseline.settings",
            "BASELINE_DATABASE_URL": database_url(db, baseline_db),
        }
        baseline_token = seed_baseline(baseline_env)
        project_port, baseline_port = free_port(), free_port()
        procs.append(start_gunicorn("config.wsgi", project_env, project_port, workdir / "p.log"))
        procs.append(
            start_gunicorn(
                "tests.benchmarks.baseline.wsgi", baseline_env, baseline_port, workdir / "b.log"
            )
        )
        noop = HttpCase("GET /noop", "baseline", "/noop", token=baseline_token)
        insert = HttpCase(
            "POST /insert",
            "baseline",
            "/insert",
            lua_rotating([baseline_token], "POST", '{"a": {n}}', "/insert"),
        )
        pairs = [
            (cases["submission"], insert),
            (cases["cmax"], insert),
            (cases["me"], noop),
            (cases["assessments"], noop),
            (cases["alerts_small"], noop),
            (cases["alerts_large"], noop),
        ]
        ports = {"project": project_port, "baseline": baseline_port}
        results: dict[str, list[tuple[float, float, int]]] = {}
        for case in {id(c): c for pair in pairs for c in pair}.values():
            run_wrk(ports[case.server], case, 1.0, workdir)  # warm up
        for _ in range(rounds):
            for project_case, baseline_case in pairs:
                for case in (project_case, baseline_case):
                    key = f"{case.server}:{case.name}"
                    results.setdefault(key, []).append(
                        run_wrk(ports[case.server], case, duration, workdir)
                    )
        rows = []
        for project_case, baseline_case in pairs:
            p = results[f"project:{project_case.name}"]
            b = results[f"baseline:{baseline_case.name}"]
            p_rate = statistics.median(r[0] for r in p)
            b_rate = statistics.median(r[0] for r in b)
            errors = sum(r[2] for r in p)
            rows.append(
                (
                    f"HTTP {project_case.name}",
                    f"{p_rate:.0f} req/s (p50 {statistics.median(r[1] for r in p):.0f} ms)"
                    + (f", {errors} non-2xx" if errors else ""),
                    f"baseline {baseline_case.name}",
                    f"{b_rate:.0f} req/s",
                    f"{p_rate / b_rate:.2f}x",
                )
            )
        return rows
    finally:
        for proc in procs:
            terminate_server(proc)
        connection.close()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{baseline_db}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)
