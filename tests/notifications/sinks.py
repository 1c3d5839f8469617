"""Real receivers for delivery tests: an SMTP sink (aiosmtpd) and a local HTTP server."""

import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tests.support import free_port


@dataclass
class ReceivedEmail:
    rcpt_tos: list[str]
    message: Message


class SmtpSink:
    """An SMTP server in this process; answers the first ``fail_first`` DATA commands with 451.

    ``refuse_all_for(seconds)`` refuses every recipient (postmaster too) with ``550 5.1.1`` for a
    while, as a server does during a directory outage; ``refuse`` is a set of addresses refused
    with ``550 5.1.1`` while the server accepts everyone else. ``rcpt_refusals`` counts refusals.
    """

    REFUSAL = "550 5.1.1 mailbox unavailable"

    def __init__(
        self,
        fail_first: int = 0,
        fail_code: str = "451 4.3.0 try again later",
        refuse: set[str] | None = None,
    ):
        self.fail_first = fail_first
        self.fail_code = fail_code
        self.refuse = {address.lower() for address in refuse or set()}
        self.refuse_all_until = 0.0
        self.rcpt_refusals = 0
        self.probes: list[str] = []
        self.data_commands = 0
        self.received: list[ReceivedEmail] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def refuse_all_for(self, seconds: float) -> None:
        self.refuse_all_until = time.monotonic() + seconds

    @property
    def refusing_all(self) -> bool:
        return time.monotonic() < self.refuse_all_until

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower().startswith("postmaster@"):
            self.probes.append(address)
        if self.refusing_all or address.lower() in self.refuse:
            self.rcpt_refusals += 1
            return self.REFUSAL
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.data_commands += 1
        if self.data_commands <= self.fail_first:
            return self.fail_code
        self.received.append(
            ReceivedEmail(list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """A local HTTP server that records every POST and answers with the next status in line.

    ``statuses`` are used in order, then 200. With ``hold_first`` the first request waits (after
    being recorded) until ``release`` is set, to let a test kill the sender mid-request. With
    ``broken_body`` the answer announces a body it never sends (the connection closes).
    """

    statuses: list[int] = field(default_factory=list)
    hold_first: bool = False
    broken_body: bool = False
    requests: list[ReceivedRequest] = field(default_factory=list)
    first_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        receiver = self
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server hook name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), body))
                    first = len(receiver.requests) == 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if first and receiver.hold_first:
                    receiver.first_arrived.set()
                    receiver.release.wait(60)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "100" if receiver.broken_body else "0")
                    self.end_headers()
                    if receiver.broken_body:
                        self.wfile.write(b"ok")
                        self.close_connection = True
                except OSError:
                    pass  # the sender is gone

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "HttpReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
