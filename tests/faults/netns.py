"""Worker "hosts" for the fault suite: each a Linux network namespace of its own, reaching
PostgreSQL, the broker and the provider only over a veth link to the test's namespace, as a
worker on another machine reaches them only over the network.

Host N is the namespace `rg<pid>h<N>` with the link `rv<pid>h<N>` (10.77.<x>.1, in the test's
namespace) <-> `rv<pid>n<N>` (10.77.<x>.2, in the host's). The servers listen on 127.0.0.1
only (PostgreSQL's configuration is the machine's and is left alone), so the test runs one
small TCP forwarder per server and host on 10.77.<x>.1, forwarding to 127.0.0.1; a worker on
host N is given URLs naming 10.77.<x>.1. Cutting a host's link (`ip link set … down` inside
its namespace) stalls every connection it has, as an unplugged cable does; restoring it lets
TCP carry on. Needs root and `ip` (iproute2)."""

import os
import shutil
import socket
import subprocess
import threading
from urllib.parse import urlsplit, urlunsplit

from tests.conftest import require_service


def netns_available() -> tuple[bool, str]:
    """Whether this process can make network namespaces, and why not."""
    if shutil.which("ip") is None:
        return False, "`ip` (iproute2) is not installed"
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    probe = f"rgprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode:
        return False, f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return True, ""


def require_netns() -> None:
    available, why = netns_available()
    require_service(available, f"the across-hosts scenario cannot run: {why}")


def ip(*args: str, netns: str | None = None, check: bool = True) -> None:
    argv = ["ip", *(("netns", "exec", netns, "ip") if netns else ()), *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


class Forwarder:
    """Accepts TCP connections on (listen_host, an ephemeral port) and pipes each to
    127.0.0.1:target_port. Counts the connections and the HTTP requests (`POST ` at the start
    of a chunk from the client) it carried."""

    def __init__(self, listen_host: str, target_port: int):
        self.target_port = target_port
        self.server = socket.create_server((listen_host, 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.posts = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._halt.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                self._open |= {client, upstream}
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_client and data.startswith(b"POST "):
                    with self._lock:
                        self.posts += 1
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._halt.set()
        self.server.close()
        with self._lock:
            for sock in self._open:
                try:
                    sock.close()
                except OSError:
                    pass
            self._open.clear()


def _rehost(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


class Host:
    """One worker host: its namespace, its link, and a forwarder per server it reaches."""

    def __init__(self, *, index: int, tag: str, subnet: int):
        self.name = f"host{index}"
        self.netns = f"rg{tag}h{index}"
        self.outer, self.inner = f"rv{tag}h{index}", f"rv{tag}n{index}"
        self.gateway, self.address = f"10.77.{subnet}.1", f"10.77.{subnet}.2"
        self.forwarders: dict[str, Forwarder] = {}
        self.cuts = 0

    def create(self) -> None:
        ip("netns", "add", self.netns)
        ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        ip("link", "set", self.inner, "netns", self.netns)
        ip("addr", "add", f"{self.gateway}/24", "dev", self.outer)
        ip("link", "set", self.outer, "up")
        ip("addr", "add", f"{self.address}/24", "dev", self.inner, netns=self.netns)
        ip("link", "set", self.inner, "up", netns=self.netns)
        ip("link", "set", "lo", "up", netns=self.netns)

    def forward(self, url: str) -> str:
        """`url` (of a server on 127.0.0.1) as this host reaches it: through a forwarder."""
        parts = urlsplit(url)
        forwarder = Forwarder(self.gateway, parts.port)
        self.forwarders[url] = forwarder
        return _rehost(url, self.gateway, forwarder.port)

    def posts(self, url: str) -> int:
        return self.forwarders[url].posts

    def cut(self) -> None:
        ip("link", "set", self.inner, "down", netns=self.netns)
        self.cuts += 1

    def restore(self) -> None:
        ip("link", "set", self.inner, "up", netns=self.netns)

    def prefix(self) -> list[str]:
        """What runs a command on this host."""
        return ["ip", "netns", "exec", self.netns]

    def destroy(self) -> None:
        for forwarder in self.forwarders.values():
            forwarder.close()
        # Deleting the namespace deletes the link's end in it, and so the pair.
        ip("link", "delete", self.outer, check=False)
        ip("netns", "delete", self.netns, check=False)


def make_hosts(count: int) -> list[Host]:
    """`count` hosts with names and subnets unique to this process; destroyed on failure."""
    tag = str(os.getpid())
    base = (os.getpid() * 7) % 240
    hosts: list[Host] = []
    try:
        for index in range(1, count + 1):
            host = Host(index=index, tag=tag, subnet=base + index)
            hosts.append(host)
            host.create()
    except Exception:
        for host in hosts:
            host.destroy()
        raise
    return hosts
