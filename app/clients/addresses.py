"""Which hosts a feed watch may fetch: by default none on this machine or its private
networks (a write token must not be a way to read internal services)."""

import ipaddress
import socket
from urllib.parse import urlsplit


def _is_private(address: str) -> bool:
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            address.split("%", 1)[0]
        )
    except ValueError:
        try:  # the forms the C library also reads as IPv4: 127.1, 2130706433, 0x7f000001
            ip = ipaddress.IPv4Address(socket.inet_aton(address))
        except OSError:
            return False
    return not ip.is_global or ip.is_multicast


def names_private_host(url: str) -> bool:
    """The URL names localhost or a non-public IP address literally."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost") or _is_private(host)


def resolves_to_private(url: str) -> bool:
    """Any address the URL's host resolves to is not public (unresolvable: False, and the
    request itself then fails as unreachable)."""
    parts = urlsplit(url)
    if names_private_host(url):
        return True
    try:
        infos = socket.getaddrinfo(
            parts.hostname or "", parts.port or 443, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError):
        return False
    return any(_is_private(str(info[4][0])) for info in infos)
