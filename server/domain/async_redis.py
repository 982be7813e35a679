"""redis.asyncio clients for the request path: a Redis round trip awaited on the event loop costs
less than handing a blocking call to a worker thread and back (measured in docs/benchmarks.md).

An asyncio connection belongs to the loop that opened it. A server has one loop for its life, but a
test client may run each request on a fresh one, so the client is made per running loop, lazily.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

MAX_CONNECTIONS = 64  # per API process; each awaited command holds one only for its round trip


class LoopBoundRedis:
    def __init__(self, url: str) -> None:
        self._url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def client(self) -> Any:  # redis.asyncio.Redis, untyped in redis-py's stubs for this use
        """The client for the running loop (made on first use; it connects on its first command)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialWithJitterBackoff

            # The same short timeouts as the blocking clients: a dead Redis is a quick 503. A blocking
            # pool: past max_connections concurrent commands wait (up to 5 s) for a free connection
            # instead of failing, as redis-py's default pool (100, then MaxConnectionsError) would.
            # Retries: after a Redis restart every pooled connection is dead, and without them (a
            # pool's connections default to none) each would fail one request before reconnecting.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self._url,
                max_connections=MAX_CONNECTIONS,
                retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.5), retries=3),
                timeout=5,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=15,
            )
            client = redis.asyncio.Redis(connection_pool=pool)
            self._clients[loop] = client
        return client
