"""Loopback fakes of the providers' HTTP APIs: they record every request and answer what the
test scripts (status, body, headers, latency), so the real SDKs run against them."""

import io
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    def form(self) -> dict:
        return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(self.body.decode()).items()}

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Answer:
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    # A fault after the request was read (and, for a ledger, recorded as accepted): "reset"
    # closes the connection with a TCP reset instead of answering; "close" closes it cleanly
    # without a word. With `delay` past the client's timeout, the answer comes too late.
    fault: str = ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog is set when the socket starts listening (in the constructor); the
    # default of 5 resets connections when a send batch connects many at once.
    request_queue_size = 256


def connection_reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the handler's connection with a TCP RST (SO_LINGER 0) instead of a FIN: the
    client sees "connection reset" and cannot tell whether its request arrived."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()


class LoopbackServer:
    """A threaded HTTP server for a handler class on 127.0.0.1, as a context manager."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class FakeProvider(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1. `answer` gives the default response (a callable
    of the request, or an Answer); `script` queues one-off answers, used first."""

    def __init__(self, answer):
        self.requests: list[Recorded] = []
        self.script: list[Answer] = []
        self.answer = answer
        self.latency = 0.0
        # Requests being answered right now, and the most there ever were at once.
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body leave in separate writes: without this, Nagle's algorithm
                # holds the body until the client's delayed ACK, about 40 ms per request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                with fake._lock:
                    fake.requests.append(recorded)
                    scripted = fake.script.pop(0) if fake.script else None
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                answer = scripted or (
                    fake.answer(recorded) if callable(fake.answer) else fake.answer
                )
                delay = answer.delay or fake.latency
                if delay:
                    time.sleep(delay)
                with fake._lock:
                    fake.in_flight -= 1
                if answer.fault:
                    if answer.fault == "reset":
                        connection_reset(self)
                    else:
                        self.connection.close()
                    self.wfile = io.BytesIO()  # the server's own flush goes nowhere
                    self.close_connection = True
                    return
                body = answer.body
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                if body is None:
                    data = b""
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self._serve(Handler)


def twilio_answer(request: Recorded) -> Answer:
    """Twilio's reply to Messages.create: the new message resource, status queued."""
    form = request.form()
    account = request.path.split("/")[3] if request.path.count("/") > 3 else "AC"
    sid = f"SM{len(form.get('To', '')):02d}{abs(hash((request.body, time.time_ns()))):030x}"[:34]
    return Answer(
        201,
        {
            "sid": sid,
            "account_sid": account,
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body", ""),
            "status": "queued",
            "num_segments": "1",
        },
    )


def sendgrid_answer(request: Recorded) -> Answer:
    """SendGrid's reply to mail/send: 202 with the message id in a header."""
    return Answer(202, None, {"X-Message-Id": f"sg-{abs(hash(request.body)):x}"})


def _twilio_date(when: datetime) -> str:
    """Twilio's dates: RFC 2822 in UTC, e.g. "Wed, 02 Dec 2026 15:00:00 +0000"."""
    return format_datetime(when.astimezone(UTC)).replace("-0000", "+0000")


class TwilioLedger:
    """A Twilio account with a memory, as FakeProvider's `answer`: Messages.create records
    each message it accepts (with its DateSent) and answers 201; the list endpoint
    (GET …/Messages.json) returns them, newest first, filtered by `To` and `DateSent>` /
    `DateSent<` and paged the way Twilio pages (`PageSize`, `Page`, `PageToken`,
    `next_page_uri`…). `faults` queues Answers for the next creates: each message is recorded
    as accepted, then the fault's answer (a delay past the client's timeout, a reset…) is
    given instead of the 201 — Twilio took it, the client never heard. `list_answer`, if set,
    answers the list requests instead (an outage of the list)."""

    def __init__(self):
        self.messages: list[dict] = []
        self.faults: list[Answer] = []
        self.list_answer: Answer | None = None
        self._lock = threading.Lock()

    def add(self, *, to: str, body: str, account: str = "AC", sent: datetime | None = None):
        """A message the account sent outside the test's sends (another reminder, by hand)."""
        when = sent or datetime.now(UTC)
        record = {
            "sid": f"SM{len(self.messages):032x}",
            "account_sid": account,
            "to": to,
            "from": "+5511900000000",
            "body": body,
            "status": "delivered",
            "direction": "outbound-api",
            "date_created": _twilio_date(when),
            "date_sent": _twilio_date(when),
        }
        with self._lock:
            self.messages.append(record)
        return record

    def __call__(self, request: Recorded) -> Answer:
        path, _, query = request.path.partition("?")
        if request.method == "GET" and path.endswith("/Messages.json"):
            return self.list_answer or self._list(path, parse_qs(query))
        answer = twilio_answer(request)
        now = datetime.now(UTC)
        record = {
            **answer.body,
            "direction": "outbound-api",
            "date_created": _twilio_date(now),
            "date_sent": _twilio_date(now),
        }
        with self._lock:
            self.messages.append(record)
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            return replace(fault, status=fault.status or 201, body=fault.body or answer.body)
        return answer

    def _list(self, path: str, query: dict) -> Answer:
        def one(name):
            return query.get(name, [None])[0]

        rows = sorted(self.messages, key=lambda r: _parse_twilio(r["date_sent"]), reverse=True)
        if one("To"):
            rows = [r for r in rows if r["to"] == one("To")]
        if one("DateSent>"):
            after = _parse_iso(one("DateSent>"))
            rows = [r for r in rows if _parse_twilio(r["date_sent"]) >= after]
        if one("DateSent<"):
            before = _parse_iso(one("DateSent<"))
            rows = [r for r in rows if _parse_twilio(r["date_sent"]) <= before]
        size = int(one("PageSize") or 50)
        page = int(one("Page") or 0)
        chunk = rows[page * size : (page + 1) * size]
        keep = {k: v[0] for k, v in query.items() if k not in ("Page", "PageToken")}

        def uri(n: int) -> str:
            token = {"PageToken": f"PA{rows[n * size - 1]['sid']}"} if n else {}
            return f"{path}?{urlencode({**keep, 'Page': n, **token})}"

        more = (page + 1) * size < len(rows)
        return Answer(
            200,
            {
                "messages": chunk,
                "page": page,
                "page_size": size,
                "start": page * size,
                "end": page * size + max(len(chunk) - 1, 0),
                "uri": uri(page),
                "first_page_uri": uri(0),
                "next_page_uri": uri(page + 1) if more else None,
                "previous_page_uri": uri(page - 1) if page else None,
            },
        )


def _parse_twilio(text: str) -> datetime:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(text)


def _parse_iso(text: str) -> datetime:
    """The SDK's DateSent> value: "2026-12-02T15:00:00Z" (or a bare date)."""
    if "T" not in text:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
