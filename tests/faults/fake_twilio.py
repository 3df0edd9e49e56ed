"""A loopback Twilio for the fault suite: the real `twilio` SDK sends to it, it keeps its own
record of every call and of every message it accepted, and it misbehaves as told.

Each `POST …/Messages.json` is answered by the fault the scenario's `fault(to, n)` names for
the n-th call (0-based) to that number:
- "ok": accepted at once (201);
- "slow": accepted, answered after `latency` seconds (under the client's timeout);
- "timeout_after_accept": accepted, answered only after `answer_after` seconds — longer than
  the client waits, so the client sees a read timeout for a message Twilio has;
- "drop_after_accept": accepted, then the connection is reset without an answer;
- "storm": refused with 503 and Twilio's error document (a 5xx storm: not accepted);
- "throttle": refused with 429, Twilio's error 20429 and `Retry-After: retry_after`.
`GET …/Messages.json` lists the accepted messages (filtered by `To`), as Twilio's message list
does: what reconciliation reads. The record is what the assertions trust, not Régua's."""

import json
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes import LoopbackServer, connection_reset

ACCEPTING = {"ok", "slow", "timeout_after_accept", "drop_after_accept"}


@dataclass(frozen=True)
class Call:
    at: float  # time.monotonic()
    method: str
    to: str
    body: str
    fault: str  # what the fake did ("list" for a GET)
    accepted: bool
    sid: str = ""


class FakeTwilio(LoopbackServer):
    def __init__(
        self,
        *,
        fault=lambda to, n: "ok",
        latency: float = 0.3,
        answer_after: float = 2.5,
        retry_after: int = 2,
    ):
        self.fault = fault
        self.latency = latency
        self.answer_after = answer_after
        self.retry_after = retry_after
        self.calls: list[Call] = []
        self.accepted: list[dict] = []
        self._per_to: Counter = Counter()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                to, body = form.get("To", ""), form.get("Body", "")
                with fake._lock:
                    fault = fake.fault(to, fake._per_to[to])
                    fake._per_to[to] += 1
                    sid = ""
                    if fault in ACCEPTING:
                        sid = f"SM{len(fake.accepted):032x}"
                        fake.accepted.append(
                            {
                                "sid": sid,
                                "to": to,
                                "from": form.get("From", ""),
                                "body": body,
                                "status": "sent",
                                "direction": "outbound-api",
                                "date_created": format_datetime(datetime.now(UTC), usegmt=True),
                                "date_sent": format_datetime(datetime.now(UTC), usegmt=True),
                            }
                        )
                    fake.calls.append(
                        Call(time.monotonic(), "POST", to, body, fault, fault in ACCEPTING, sid)
                    )
                if fault == "drop_after_accept":
                    # RST instead of an answer: the client cannot tell whether it arrived.
                    connection_reset(self)
                    return
                if fault == "storm":
                    return self._answer(
                        503, {"code": 20503, "message": "Service unavailable", "status": 503}
                    )
                if fault == "throttle":
                    return self._answer(
                        429,
                        {"code": 20429, "message": "Too Many Requests", "status": 429},
                        {"Retry-After": str(fake.retry_after)},
                    )
                if fault == "slow":
                    time.sleep(fake.latency)
                elif fault == "timeout_after_accept":
                    time.sleep(fake.answer_after)
                with fake._lock:
                    record = next(m for m in fake.accepted if m["sid"] == sid)
                self._answer(201, {**record, "status": "queued", "num_segments": "1"})

            def do_GET(self):
                query = parse_qs(urlsplit(self.path).query)
                to = query.get("To", [""])[0]
                with fake._lock:
                    listed = [m for m in fake.accepted if not to or m["to"] == to]
                    fake.calls.append(Call(time.monotonic(), "GET", to, "", "list", False))
                path = urlsplit(self.path).path
                self._answer(
                    200,
                    {
                        "messages": list(reversed(listed)),
                        "first_page_uri": path,
                        "next_page_uri": None,
                        "previous_page_uri": None,
                        "page": 0,
                        "page_size": max(len(listed), 50),
                        "start": 0,
                        "end": max(len(listed) - 1, 0),
                        "uri": path,
                    },
                )

            def _answer(self, status: int, payload: dict, headers: dict | None = None):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    self.close_connection = True  # the client gave up waiting

            def log_message(self, *args):
                pass

        self._serve(Handler)

    # --- what the assertions read ---------------------------------------------------------

    def accepted_count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def accepted_by_body(self) -> Counter:
        """(to, body) → how many times the fake accepted it."""
        with self._lock:
            return Counter((m["to"], m["body"]) for m in self.accepted)

    def posts_by_to(self) -> dict[str, list[Call]]:
        out: dict[str, list[Call]] = defaultdict(list)
        with self._lock:
            for call in self.calls:
                if call.method == "POST":
                    out[call.to].append(call)
        return out
