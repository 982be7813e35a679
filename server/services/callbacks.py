"""Callback URLs for webhooks: only public http(s) endpoints, unless an operator allows more.

A callback URL is a request the server makes on the caller's behalf, so without this check any API
user could make it reach the server's own network (SSRF): loopback, link-local (cloud metadata at
169.254.169.254), private ranges. The check runs at submission and again before each delivery (the
name may resolve elsewhere by then).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from server.domain.errors import InvalidRequest
from server.settings import WebhookSettings

Resolver = Callable[[str, int], list[str]]


def resolve_host(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def check_callback_url(url: str, settings: WebhookSettings, resolve: Resolver = resolve_host) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise InvalidRequest("callback_url must be an absolute http(s) URL", code="invalid_callback_url")
    host = parts.hostname
    if host in settings.allow_hosts:
        return url
    try:
        addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise InvalidRequest(f"callback_url's host {host!r} does not resolve", code="invalid_callback_url") from exc
    networks = [ipaddress.ip_network(entry, strict=False) for entry in settings.allow_hosts if _is_network(entry)]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global and not any(ip in network for network in networks):
            raise InvalidRequest(
                f"callback_url's host {host!r} resolves to {ip}, which is not a public address; "
                "an operator can allow it with VOICE_API_WEBHOOKS__ALLOW_HOSTS",
                code="callback_url_forbidden",
            )
    return url


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True
