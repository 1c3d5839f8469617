"""gunicorn's own errors (before Django sees the request) are in the API's error shape."""

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support import accepts, free_port, wait_for

pytestmark = pytest.mark.worker


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.conf.py",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: accepts(port), timeout=30)
        yield port
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def raw(port: int, request: bytes) -> tuple[int, dict, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (
            b"GET /healthz?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
            414,
            "uri_too_long",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
            + b"".join(b"X-H%d: 1\r\n" % n for n in range(120))
            + b"\r\n",
            431,
            "headers_too_large",
        ),
        (b"G\x01T /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "invalid"),
    ],
    ids=["uri-too-long", "header-too-large", "too-many-headers", "malformed"],
)
def test_gunicorn_errors_use_the_error_shape(gunicorn, request_bytes, status, code):
    got, headers, body = raw(gunicorn, request_bytes)

    assert got == status
    assert headers["Content-Type"] == "application/json"
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "fields"}


def test_a_normal_request_still_reaches_django(gunicorn):
    status, headers, body = raw(
        gunicorn, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    assert (status, body) == (200, {"status": "ok"})
