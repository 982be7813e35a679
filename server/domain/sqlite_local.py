"""One SQLite connection per thread, in WAL mode: what every SQLite-backed store here needs.

sqlite3 connections must not cross threads; WAL lets readers (API polls) run while a writer
(a worker) commits. Autocommit mode: stores open explicit transactions where they need them.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadLocalSqlite:
    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.conn().executescript(schema)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn
