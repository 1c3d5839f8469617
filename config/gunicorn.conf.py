"""gunicorn settings (``gunicorn -c config/gunicorn.conf.py config.wsgi``; Procfile and README).

gunicorn answers some requests itself, before Django sees them: a malformed request line (400), a
request line over ``limit_request_line`` (414), too many or too large headers (431). Its own page
is HTML; this file replaces it with the API's error shape ``{"error": {"code", "message",
"fields"}}`` (the patch is applied in the master process, before the workers are forked).
The limits are gunicorn's defaults, stated here so that they are documented in one place: an URL
of 8,190 bytes, 100 headers of 8,190 bytes each. Bind address and worker count come from the
command line (``WEB_BIND``, ``WEB_WORKERS`` in ``make run``).
"""

import json

from gunicorn import util  # type: ignore[import-untyped]

limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
graceful_timeout = 10

_CODES = {400: "invalid", 403: "permission_denied", 414: "uri_too_long", 431: "headers_too_large"}


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn's ``util.write_error`` in the API's error shape (JSON, never HTML)."""
    body = json.dumps(
        {
            "error": {
                "code": _CODES.get(status_int, "invalid" if status_int < 500 else "server_error"),
                "message": reason,
                "fields": {},
            }
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin1")
    util.write_nonblock(sock, head + body)


util.write_error = write_json_error
