"""Loopback fakes of the providers' HTTP APIs: they record every request and answer what the
test scripts (status, body, headers, latency), so the real SDKs run against them."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog is set when the socket starts listening (in the constructor); the
    # default of 5 resets connections when a send batch connects many at once.
    request_queue_size = 128


class FakeProvider:
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

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


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
