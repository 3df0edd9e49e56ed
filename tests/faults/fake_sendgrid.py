"""A loopback SendGrid for the fault suite: the real `sendgrid` SDK sends to its v3 Mail Send
API, it keeps its own record of every call and of every e-mail it accepted (with its
`custom_args.regua_ref`), misbehaves as told, and reports what it accepted through the signed
Event Webhook, as SendGrid does.

Each `POST /v3/mail/send` is answered by the fault the scenario's `fault(to, n)` names for the
n-th call (0-based) to that address:
- "ok": accepted at once (202 with `X-Message-Id`);
- "slow": accepted, answered after `latency` seconds (under the client's timeout);
- "timeout_after_accept": accepted, answered only after `answer_after` seconds — longer than
  the client waits, so the client sees a read timeout for an e-mail SendGrid has;
- "drop_after_accept": accepted, then the connection is reset without an answer;
- "storm": refused with 500 and SendGrid's `errors` document (not accepted);
- "throttle": refused with 429, SendGrid's `errors` document and `Retry-After: retry_after`.

Events: for each accepted e-mail whose address `events(to)` allows, a `processed` and a
`delivered` event carrying `regua_ref` (SendGrid puts custom args at the event's top level)
become due `event_delay` seconds after the acceptance; `post_due_events(post)` signs the due
ones with the account's ECDSA key (as SendGrid signs: timestamp + body) and hands each batch
to `post(body, headers)`, which delivers it to Régua's webhook URL. The record is what the
assertions trust, not Régua's."""

import base64
import json
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhookHeader

from tests.fakes import LoopbackServer, connection_reset

ACCEPTING = {"ok", "slow", "timeout_after_accept", "drop_after_accept"}


@dataclass(frozen=True)
class Call:
    at: float  # time.monotonic()
    to: str
    ref: str
    fault: str
    accepted: bool
    message_id: str = ""


class FakeSendGrid(LoopbackServer):
    def __init__(
        self,
        *,
        fault=lambda to, n: "ok",
        events=lambda to: True,
        latency: float = 0.3,
        answer_after: float = 2.5,
        retry_after: int = 2,
        event_delay: float = 0.5,
    ):
        self.fault, self.events = fault, events
        self.latency, self.answer_after = latency, answer_after
        self.retry_after, self.event_delay = retry_after, event_delay
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.calls: list[Call] = []
        self.accepted: list[dict] = []
        self.events_posted: list[dict] = []
        self._pending: list[tuple[float, dict]] = []
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
                mail = json.loads(self.rfile.read(length) or b"{}")
                to = mail["personalizations"][0]["to"][0]["email"]
                ref = (mail.get("custom_args") or {}).get("regua_ref", "")
                with fake._lock:
                    fault = fake.fault(to, fake._per_to[to])
                    fake._per_to[to] += 1
                    message_id = ""
                    if fault in ACCEPTING:
                        message_id = f"fsg{len(fake.accepted):020d}"
                        fake.accepted.append({"id": message_id, "to": to, "ref": ref})
                        if fake.events(to):
                            fake._pending.append(
                                (
                                    time.monotonic() + fake.event_delay,
                                    fake._events(to, ref, message_id),
                                )
                            )
                    fake.calls.append(
                        Call(time.monotonic(), to, ref, fault, fault in ACCEPTING, message_id)
                    )
                if fault == "drop_after_accept":
                    connection_reset(self)
                    return
                if fault == "storm":
                    return self._answer(500, {"errors": [{"message": "Internal error"}]})
                if fault == "throttle":
                    return self._answer(
                        429,
                        {"errors": [{"message": "too many requests"}]},
                        {"Retry-After": str(fake.retry_after)},
                    )
                if fault == "slow":
                    time.sleep(fake.latency)
                elif fault == "timeout_after_accept":
                    time.sleep(fake.answer_after)
                self._answer(202, None, {"X-Message-Id": message_id})

            def _answer(self, status: int, payload, headers: dict | None = None):
                data = b"" if payload is None else json.dumps(payload).encode()
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

    @staticmethod
    def _events(to: str, ref: str, message_id: str) -> list[dict]:
        now = int(time.time())
        return [
            {
                "email": to,
                "timestamp": now,
                "event": kind,
                "sg_event_id": f"{message_id}-{kind}",
                "sg_message_id": f"{message_id}.filter0001.1.0",
                "regua_ref": ref,
            }
            for kind in ("processed", "delivered")
        ]

    # --- the Event Webhook ----------------------------------------------------------------

    def public_key_text(self) -> str:
        """The verification key as SendGrid shows it: base64 of the DER public key."""
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def post_due_events(self, post) -> int:
        """Sign the events now due as one batch and `post(body, headers)` it; a batch Régua
        does not take (not 2xx) stays due, as SendGrid retries it. Returns how many posted."""
        now = time.monotonic()
        with self._lock:
            due = [events for at, events in self._pending if at <= now]
            self._pending = [(at, events) for at, events in self._pending if at > now]
        batch = [event for events in due for event in events]
        if not batch:
            return 0
        body = json.dumps(batch)
        timestamp = str(int(time.time()))
        raw = self.key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
        status = post(
            body,
            {
                EventWebhookHeader.SIGNATURE: base64.b64encode(raw).decode(),
                EventWebhookHeader.TIMESTAMP: timestamp,
            },
        )
        if not 200 <= status < 300:
            with self._lock:
                self._pending.extend((now, events) for events in due)
            return 0
        with self._lock:
            self.events_posted.extend(batch)
        return len(batch)

    # --- what the assertions read ---------------------------------------------------------

    def accepted_count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def accepted_by_ref(self) -> Counter:
        """regua_ref → how many times the fake accepted an e-mail carrying it."""
        with self._lock:
            return Counter(m["ref"] for m in self.accepted)

    def posts_by_to(self) -> dict[str, list[Call]]:
        out: dict[str, list[Call]] = defaultdict(list)
        with self._lock:
            for call in self.calls:
                out[call.to].append(call)
        return out
