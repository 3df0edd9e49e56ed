"""The one policy for every connection Régua opens to a host a tenant chose: SMTP accounts,
webhook endpoints and any future provider URL.

Only public addresses: a host is resolved once and every address it resolves to must be
global, so the workers' own network (loopback, private ranges, link-local, the cloud metadata
address…) cannot be reached through a tenant's setting. IPv6 forms that carry an IPv4 address
(IPv4-mapped and -compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the IPv4
address they carry; the local-use NAT64 prefix `64:ff9b:1::/48` and Teredo `2001::/32` are
refused outright. The caller then connects to an address that was checked, never to the name
again (a second lookup could answer something else: DNS rebinding). SMTP goes to the SMTP
ports only.

`WEBHOOKS_ALLOW_PRIVATE` (the name predates this module; it now covers every outbound
connection) lifts the address and port rules, for development and the tests' loopback fakes
only."""

import ipaddress
import socket

from django.conf import settings
from django.utils.translation import gettext as _

SMTP_PORTS = (25, 465, 587, 2525)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_TEREDO = ipaddress.ip_network("2001::/32")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeAddress(ValueError):
    """A host or port Régua will not connect to, with the reason (translated)."""


def private_allowed() -> bool:
    """Whether the address and port rules are lifted (development and tests only)."""
    return bool(settings.WEBHOOKS_ALLOW_PRIVATE)


def address_is_public(address: Address) -> bool:
    """Whether a connection to this address stays outside every private network, including
    an IPv4 address carried inside an IPv6 one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL or address in _TEREDO:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None and not embedded.is_global:
            return False
    return address.is_global


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def outbound_addresses(host: str, port: int) -> list[str]:
    """Resolve `host` once and return its addresses, each checked (all of them must be
    public unless private addresses are allowed); connect to one of these, not to the name.
    UnsafeAddress if the host does not resolve or any address is not public."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
        raise UnsafeAddress(_("The host %(host)s does not resolve.") % {"host": host}) from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not private_allowed():
        for text in addresses:
            # A scoped IPv6 address ("fe80::1%eth0") is link-local whatever its scope.
            address = ipaddress.ip_address(text.partition("%")[0])
            if not address_is_public(address):
                # Not the address itself: what an internal name resolves to is not the
                # tenant's to learn.
                raise UnsafeAddress(
                    _("%(host)s points to a private or local address.") % {"host": host}
                )
    if not addresses:
        raise UnsafeAddress(_("The host %(host)s does not resolve.") % {"host": host})
    return addresses


def outbound_check(host: str, port: int) -> None:
    """The check at save time: `outbound_addresses`' rules, without resolving at all when
    private addresses are allowed (a development host need not resolve yet)."""
    if not private_allowed():
        outbound_addresses(host, port)


def smtp_port_check(port: int) -> None:
    """SMTP goes to the SMTP ports only (unless the rules are lifted for the tests' fakes)."""
    if port not in SMTP_PORTS and not private_allowed():
        raise UnsafeAddress(
            _("Use an SMTP port: %(ports)s.") % {"ports": ", ".join(map(str, SMTP_PORTS))}
        )
