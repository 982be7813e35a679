"""Logging for the entrypoints: readable text, or one JSON object per line for log pipelines.

Task ids appear in every task log message ("task <id> …"); the JSON format also lifts them into a
`task_id` field so logs can be filtered per task. API keys never reach the log: nothing logs
request headers, and the first-start admin key is printed to the terminal, not logged.
"""

from __future__ import annotations

import json
import logging
import re

_TASK_ID = re.compile(r"\btask ([0-9a-f]{32})\b")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if match := _TASK_ID.search(message):
            entry["task_id"] = match.group(1)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
