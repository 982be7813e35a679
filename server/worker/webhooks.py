"""Delivers task-ended webhooks, signed per Standard Webhooks, with retries; never blocks a task.

The worker side runs one deliverer per process (a thread): it claims due entries from the durable
webhook queue, POSTs the task's status document to its callback URL with `webhook-id` (stable per
task, so receivers can deduplicate redeliveries), `webhook-timestamp` and `webhook-signature`
(HMAC-SHA256 over "id.timestamp.body" with the key's secret, by the `standardwebhooks` package), and
records each attempt on the task. A non-2xx answer or a timeout is retried with exponential backoff
for `webhooks.retry_for_s`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from server.domain.errors import InvalidRequest
from server.domain.task_store import TaskStore
from server.domain.tasks import Task
from server.services.callbacks import check_callback_url
from server.settings import Settings

log = logging.getLogger(__name__)

LEASE_S = 60.0  # a claimed delivery comes due again after this if its deliverer died
FIRST_RETRY_S, MAX_RETRY_S = 2.0, 600.0


def status_document(task: Task) -> dict[str, Any]:
    """The same fields as GET /v1/{kind}/{id}, plus the kind."""
    return {
        "task_id": task.id,
        "kind": task.kind.value,
        "status": task.status.value,
        "progress": task.progress,
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
        "error": {"code": task.error.code, "message": task.error.message} if task.error else None,
        "result": task.result,
    }


class WebhookDeliverer:
    def __init__(self, settings: Settings, store: TaskStore, queue, secrets, resolve=None, clock=time.time) -> None:
        self._settings = settings.webhooks
        self._store = store
        self._queue = queue
        self._secrets = secrets
        self._clock = clock
        self._resolve = resolve
        self._http = httpx.Client(timeout=self._settings.timeout_s, follow_redirects=False)

    def deliver_due(self) -> int:
        ids = self._queue.claim_due(LEASE_S)
        for task_id in ids:
            try:
                self._deliver(task_id)
            except Exception:  # one bad entry must not stop the others; it comes due again
                log.exception("webhook for task %s: delivery failed unexpectedly", task_id)
        return len(ids)

    def run(self, stop: threading.Event, every_s: float = 0.5) -> None:
        while not stop.is_set():
            try:
                self.deliver_due()
            except Exception as exc:  # the store is away: try again shortly
                log.warning("webhook deliverer: %s", exc)
            stop.wait(every_s)

    def start(self) -> threading.Event:
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="webhook-deliverer", daemon=True).start()
        return stop

    def _deliver(self, task_id: str) -> None:
        task = self._store.get(task_id)
        if task is None or not task.webhook:
            self._queue.done(task_id)
            return
        hook = dict(task.webhook)
        now = self._clock()
        hook.setdefault("first_attempt_at", now)
        status = self._post(task, hook)
        hook["attempts"] = int(hook.get("attempts", 0)) + 1
        hook["last_status"] = status
        delivered = isinstance(status, int) and 200 <= status < 300
        if delivered:
            hook["delivered_at"] = datetime.fromtimestamp(now, UTC).isoformat()
        self._store.record_webhook(task_id, hook)
        if delivered or now - hook["first_attempt_at"] >= self._settings.retry_for_s:
            self._queue.done(task_id)
            if not delivered:
                log.warning("webhook for task %s: gave up after %d attempts", task_id, hook["attempts"])
            return
        delay = min(FIRST_RETRY_S * 2 ** (hook["attempts"] - 1), MAX_RETRY_S)
        self._queue.schedule(task_id, delay)

    def _post(self, task: Task, hook: dict[str, Any]) -> int | str:
        """The receiver's HTTP status, or why no answer came ("timeout", "refused: …")."""
        from standardwebhooks.webhooks import Webhook

        secret = self._secrets.get(hook.get("key_id") or "")
        if secret is None:
            return "no webhook secret for this key"
        try:
            url = check_callback_url(hook["url"], self._settings, *([self._resolve] if self._resolve else []))
        except InvalidRequest as exc:
            return f"refused: {exc.message}"
        body = json.dumps(
            {"type": f"task.{task.status.value}", "timestamp": _iso(self._clock()), "data": status_document(task)}
        )
        msg_id, sent_at = f"msg_{task.id}", datetime.fromtimestamp(self._clock(), UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, sent_at, body),
        }
        try:
            return self._http.post(url, content=body, headers=headers).status_code
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as exc:
            return f"error: {type(exc).__name__}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
