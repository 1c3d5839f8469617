"""Test utilities shared by the suite: free ports, polling, and a private Redis server."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    """Return a local TCP port nothing listens on (closed again when the probe socket is)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accepts(port: int) -> bool:
    """Return whether something accepts TCP connections on the local port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def wait_for(predicate, timeout: float = 30, interval: float = 0.2):
    """Poll until predicate() returns a truthy value; return it or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


class PrivateRedis:
    """A Redis server of one test's own, so stopping it disturbs no one else."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: accepts(self.port), timeout=10, interval=0.05)
        return self

    def stop(self) -> None:
        assert self.proc is not None, "not started"
        self.proc.terminate()
        self.proc.wait(10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None
