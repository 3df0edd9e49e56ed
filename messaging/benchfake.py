"""A loopback stand-in for Twilio's Messages API, for the send benchmark: it answers every
`POST …/Messages.json` like Twilio (201 and a message resource) after a fixed latency. It runs
in a child process, so its work does not compete with the workers' interpreter lock."""

import json
import multiprocessing
import secrets
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
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
