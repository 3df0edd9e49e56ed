"""A loopback stand-in for Twilio's Messages API, for the send benchmark: it answers every
`POST …/Messages.json` like Twilio (201 and a message resource) after a fixed latency. It runs
in a child process, so its work does not compete with the workers' interpreter lock."""

import json
import multiprocessing
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog, fixed when the socket starts listening (in the constructor): the
    # default of 5 resets connections when many clients connect at once.
    request_queue_size = 1024


def _serve(port_out, latency: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body leave in separate writes: without this, Nagle's algorithm
            # holds the body until the client's delayed ACK, about 40 ms per request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            time.sleep(latency)
            body = json.dumps(
                {
                    "sid": "SM" + secrets.token_hex(16),
                    "to": form.get("To", [""])[0],
                    "from": form.get("From", [""])[0],
                    "status": "queued",
                }
            ).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


class FakeTwilio:
    """`with FakeTwilio(latency=0.1) as url:` — the base URL to point TWILIO_API_BASE at."""

    def __init__(self, *, latency: float):
        self.latency = latency
        self.process = None

    def __enter__(self) -> str:
        ctx = multiprocessing.get_context("spawn")
        port = ctx.Queue()
        self.process = ctx.Process(target=_serve, args=(port, self.latency), daemon=True)
        self.process.start()
        return f"http://127.0.0.1:{port.get(timeout=30)}"

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.join(timeout=10)


def _sdk_sends(url: str, count: int, threads: int) -> tuple[float, float]:
    """In a child process: `count` Messages.create calls through the bare twilio SDK, with
    `threads` in flight. Returns (start, end) wall-clock times."""

    class _Loopback(TwilioHttpClient):
        def request(self, method, address, *args, **kwargs):
            return super().request(
                method, address.replace("https://api.twilio.com", url), *args, **kwargs
            )

    local = threading.local()

    def send(k: int) -> None:
        if not hasattr(local, "client"):
            local.client = Client(
                "AC" + "0" * 32, "x", http_client=_Loopback(pool_connections=True)
            )
        local.client.messages.create(to=f"+55119{k:08d}", from_="+5511900000000", body="Lembrete")

    started = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(count)))
    return started, time.time()


def sdk_reference(url: str, *, messages: int, processes: int, threads: int) -> float:
    """The reference for the send benchmark: messages per second of the bare twilio SDK against
    the same fake, with as many processes and calls in flight as the workers, and nothing
    else — no database, no broker, no rendering."""
    ctx = multiprocessing.get_context("spawn")
    share = [messages // processes + (k < messages % processes) for k in range(processes)]
    with ctx.Pool(processes) as pool:
        spans = pool.starmap(_sdk_sends, [(url, count, threads) for count in share])
    return messages / (max(end for _s, end in spans) - min(start for start, _e in spans))
