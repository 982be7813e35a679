"""mDNS announcement of the listener (`_wyoming._tcp.local.`), which Home Assistant browses for and
then offers under discovered devices. Optional (the `zeroconf` extra) and off by default.

Written over zeroconf's AsyncZeroconf rather than wyoming.zeroconf's helper so that the service is
unregistered (mDNS goodbye packets) when the listener stops, not left cached on the network.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def _default_name() -> str:
    return f"{uuid.getnode():012x}"  # the MAC address, as the reference Wyoming servers name themselves


def _outward_address() -> str:
    """The address other machines reach this one at: the interface a multicast packet would leave by."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((_MDNS_GROUP, 1))  # UDP: nothing is sent
        return probe.getsockname()[0]


@contextlib.asynccontextmanager
async def announced(host: str, port: int, name: str | None) -> AsyncIterator[None]:
    try:
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
    except ImportError as exc:
        raise RuntimeError("wyoming.zeroconf needs the zeroconf package: pip install 'voice-api[zeroconf]'") from exc
    address = _outward_address() if host in ("0.0.0.0", "", "::") else host
    name = name or _default_name()
    info = AsyncServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", addresses=[socket.inet_aton(address)], port=port)
    zc = AsyncZeroconf(interfaces=[address]) if address.startswith("127.") else AsyncZeroconf()
    # Each call returns the broadcast as a task: awaited too, or closing would cut the goodbye short.
    try:
        await (await zc.async_register_service(info))
        yield
    finally:
        with contextlib.suppress(Exception):
            await (await zc.async_unregister_service(info))
        await zc.async_close()
