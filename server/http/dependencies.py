"""The objects route handlers receive by injection, built once in create_app."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from server.auth.budget_reports import BudgetReports
from server.auth.key_cache import VerifiedKeyCache
from server.auth.keys import KeyStore
from server.auth.quotas import QuotaStore
from server.auth.ratelimit import RateLimiter
from server.dispatch.base import Dispatcher
from server.domain.metrics import TaskMetrics
from server.services.catalog import CatalogService
from server.services.health import HealthSnapshots
from server.services.tasks import TaskService
from server.settings import Settings


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            self.value += 1


@dataclass
class Services:
    settings: Settings
    tasks: TaskService
    dispatcher: Dispatcher
    catalog: CatalogService
    keys: KeyStore
    limiter: RateLimiter
    quotas: QuotaStore
    task_metrics: TaskMetrics
    key_cache: VerifiedKeyCache
    budgets: BudgetReports
    health: HealthSnapshots
    rate_limited: Counter = field(default_factory=Counter)
