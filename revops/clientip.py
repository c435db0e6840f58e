"""The address a request came from, for sign-in lockouts and API throttles.

By default that is the socket's peer (``REMOTE_ADDR``): a header such as ``X-Forwarded-For`` is
written by whoever sends the request, so trusting it would let an attacker pick a new address for
every guess. Behind a reverse proxy every request comes from the proxy, so a deployment names the
header its proxy sets (``DJANGO_CLIENT_IP_HEADER=X-Forwarded-For``) and how many proxies append to it
(``DJANGO_TRUSTED_PROXY_COUNT``, default 1): the address is the one that many entries from the right,
the one the outermost trusted proxy saw. A header that is missing, too short or not an address falls
back to the peer address.
"""

import ipaddress

from django.conf import settings


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def client_ip(request) -> str:
    """The client's address as a string (``""`` when the request has none at all)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    if not header:
        return remote
    values = [v.strip() for v in request.META.get(_meta_key(header), "").split(",") if v.strip()]
    count = max(1, getattr(settings, "TRUSTED_PROXY_COUNT", 1))
    if len(values) < count:
        return remote
    candidate = values[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
