"""Where a webhook may point: an http(s) URL whose every address is public.

The name is resolved and every address it has is checked, when the subscription is made and
again before each send (a name may be re-pointed later): private, loopback, link-local,
multicast, reserved and unspecified addresses are refused unless
``NOTIFICATIONS["allow_private_webhooks"]`` says otherwise. What remains open: the HTTP client
resolves the name once more when it connects, so a name that changes between the check and the
connection within a second is not caught (documented in docs/NOTIFICATIONS.md).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from compute.exceptions import Invalid
from compute.notify.conf import notify_conf


def check_webhook_url(url: str) -> str:
    """The URL, if a webhook may be sent to it; else ``Invalid`` saying why."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Invalid(f"Invalid webhook URL: {error}.") from None
    if parts.scheme not in ("http", "https"):
        raise Invalid("A webhook URL must start with http:// or https://.")
    host = parts.hostname
    if not host:
        raise Invalid("A webhook URL must name a host.")
    if parts.username or parts.password:
        raise Invalid("A webhook URL must not carry credentials; use the signing secret.")
    if notify_conf().allow_private_webhooks:
        return url
    try:
        found = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        raise Invalid(f"The webhook host {host!r} does not resolve.") from None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise Invalid(
                f"The webhook host {host!r} resolves to {address}, a private, loopback or "
                "link-local address; webhooks are only sent to public addresses."
            )
    return url
