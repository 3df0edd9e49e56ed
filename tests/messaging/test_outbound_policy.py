"""One policy for every outbound host: public addresses only, IPv6 forms carrying a private
IPv4 address included, for webhook URLs and SMTP accounts alike."""

import socket

import pytest

from collections_app.webhooks_out.events import UnsafeURL, url_check
from messaging.outbound import UnsafeAddress, outbound_addresses

REAL_GETADDRINFO = socket.getaddrinfo

CARRYING_PRIVATE_IPV4 = [
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:808:808:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::127.0.0.1",  # IPv4-compatible
    "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
]


def resolving_to(monkeypatch, address: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.example.com":
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("address", CARRYING_PRIVATE_IPV4)
def test_ipv6_forms_carrying_a_private_ipv4_address_are_refused(address, settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    resolving_to(monkeypatch, address)
    with pytest.raises(UnsafeURL):
        url_check("https://hooks.example.com/in")
    with pytest.raises(UnsafeAddress):
        outbound_addresses("hooks.example.com", 587)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address, settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    resolving_to(monkeypatch, address)
    url_check("https://hooks.example.com/in")
    assert outbound_addresses("hooks.example.com", 443) == [address]


def test_a_refused_name_does_not_tell_what_it_resolves_to(settings, monkeypatch):
    """An admin probing internal names learns that one is refused, not its address."""
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    resolving_to(monkeypatch, "10.20.30.40")
    with pytest.raises(UnsafeAddress) as refused:
        outbound_addresses("hooks.example.com", 443)
    assert "hooks.example.com" in str(refused.value)
    assert "10.20.30.40" not in str(refused.value)
