"""/metrics in the Prometheus text format (restrict it to your monitoring network at the proxy)."""

from __future__ import annotations

from collections import defaultdict

from litestar import MediaType, Response, get
from litestar.di import NamedDependency

from server.services.container import Services

PREFIX = "voice_api"


def render(queue_depths: dict[str, int], queue_up: bool, tasks: dict[str, float], rate_limited: int) -> str:
    lines = [
        f"# HELP {PREFIX}_queue_up Whether the task queue is reachable.",
        f"# TYPE {PREFIX}_queue_up gauge",
        f"{PREFIX}_queue_up {int(queue_up)}",
        f"# HELP {PREFIX}_queue_depth Tasks waiting in each queue.",
        f"# TYPE {PREFIX}_queue_depth gauge",
        *(f'{PREFIX}_queue_depth{{queue="{q}"}} {n}' for q, n in sorted(queue_depths.items())),
        f"# HELP {PREFIX}_rate_limited_total Submissions refused by the rate limiter (this API node).",
        f"# TYPE {PREFIX}_rate_limited_total counter",
        f"{PREFIX}_rate_limited_total {rate_limited}",
    ]
    grouped: dict[str, list[str]] = defaultdict(list)
    for key, value in sorted(tasks.items()):
        kind, name, label = key.split("|")
        if name == "outcome":
            grouped["tasks_total"].append(f'{PREFIX}_tasks_total{{kind="{kind}",outcome="{label}"}} {value:g}')
        elif name.endswith("_bucket"):
            metric = "task_duration_seconds" if name.startswith("duration") else "task_real_time_factor"
            grouped[metric].append(f'{PREFIX}_{metric}_bucket{{kind="{kind}",le="{label}"}} {value:g}')
        else:
            metric = {
                "duration_sum": "task_duration_seconds_sum",
                "duration_count": "task_duration_seconds_count",
                "rtf_sum": "task_real_time_factor_sum",
                "rtf_count": "task_real_time_factor_count",
                "audio_seconds": "audio_seconds_total",
            }[name]
            family = metric.removesuffix("_sum").removesuffix("_count")
            grouped[family].append(f'{PREFIX}_{metric}{{kind="{kind}"}} {value:g}')
    types = {
        "tasks_total": "counter",
        "task_duration_seconds": "histogram",
        "task_real_time_factor": "histogram",
        "audio_seconds_total": "counter",
    }
    for family, samples in grouped.items():
        lines += [f"# TYPE {PREFIX}_{family} {types[family]}", *samples]
    return "\n".join(lines) + "\n"


@get("/metrics", sync_to_thread=True, include_in_schema=False)
def metrics(services: NamedDependency[Services]) -> Response[str]:
    queue = services.dispatcher.health()
    try:
        tasks = services.task_metrics.snapshot()
    except Exception:
        tasks = {}
    body = render(queue.queue_depths, queue.reachable, tasks, services.rate_limited.value)
    return Response(body, media_type=MediaType.TEXT, headers={"Content-Type": "text/plain; version=0.0.4"})
