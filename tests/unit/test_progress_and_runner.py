"""The runner's outcome mapping, with a real SQLite store and real artifacts; jobs are stand-ins."""

from __future__ import annotations

import pytest

from engines.audio_io import AudioDecodeError
from server.domain.tasks import Task, TaskKind, TaskStatus
from server.worker import runner
from server.worker.context import WorkerContext
from server.worker.progress import ProgressReporter, TaskTimeout


@pytest.fixture
def ctx(make_settings):
    return WorkerContext.build(make_settings(worker={"max_attempts": 2}))


def submit(ctx) -> Task:
    task = Task.new(TaskKind.STT, "alice")
    ctx.artifacts.write_bytes(task.id, ctx.artifacts.INPUT, b"input")
    ctx.store.create(task)
    return task


def run_with(monkeypatch, ctx, job, **kwargs) -> Task:
    monkeypatch.setitem(runner.JOBS, TaskKind.STT, job)
    task = submit(ctx)
    runner.execute_task(ctx, task.id, **kwargs)
    return ctx.store.get(task.id)


def test_success_stores_result_and_removes_input(monkeypatch, ctx):
    def job(ctx, task, progress):
        progress.set(50)
        return {"ok": True}

    task = run_with(monkeypatch, ctx, job)
    assert task.status is TaskStatus.SUCCEEDED and task.result == {"ok": True} and task.progress == 100
    assert not ctx.artifacts.exists(task.id, ctx.artifacts.INPUT)


def test_engine_error_becomes_specific_code(monkeypatch, ctx):
    def job(ctx, task, progress):
        raise AudioDecodeError("cannot decode audio")

    task = run_with(monkeypatch, ctx, job)
    assert task.status is TaskStatus.FAILED
    assert task.error.code == "unsupported_audio" and "cannot decode" in task.error.message


def test_unexpected_error_is_internal_without_details(monkeypatch, ctx):
    def job(ctx, task, progress):
        raise RuntimeError("secret stack detail")

    task = run_with(monkeypatch, ctx, job)
    assert task.error.code == "internal_error" and "secret" not in task.error.message


class StaleSignal(Exception):
    """Stands in for Celery's SoftTimeLimitExceeded."""


def test_host_time_limit_before_the_deadline_is_stale_and_the_job_runs_again(monkeypatch, ctx):
    runs = []

    def job(ctx, task, progress):
        runs.append(1)
        if len(runs) == 1:
            raise StaleSignal  # a late signal meant for the task before this one
        return {"ok": True}

    task = run_with(monkeypatch, ctx, job, timeout_errors=(StaleSignal,))
    assert runs == [1, 1]
    assert task.status is TaskStatus.SUCCEEDED and task.result == {"ok": True}


def test_repeated_host_time_limit_before_the_deadline_fails_after_one_rerun(monkeypatch, ctx):
    runs = []

    def job(ctx, task, progress):
        runs.append(1)
        raise StaleSignal

    task = run_with(monkeypatch, ctx, job, timeout_errors=(StaleSignal,))
    assert runs == [1, 1] and task.error.code == "timeout"


def test_host_time_limit_past_the_deadline_is_not_rerun(monkeypatch, ctx):
    runs = []

    def job(ctx, task, progress):
        runs.append(1)
        progress._deadline = 0  # this task's own limit has passed
        raise StaleSignal

    task = run_with(monkeypatch, ctx, job, timeout_errors=(StaleSignal,))
    assert runs == [1] and task.error.code == "timeout"


def test_cooperative_deadline(monkeypatch, ctx):
    def job(ctx, task, progress):
        progress._deadline = 0  # the limit has passed: the next progress report stops the task
        progress.set(20)
        return {}

    task = run_with(monkeypatch, ctx, job)
    assert task.status is TaskStatus.FAILED and task.error.code == "timeout"


def test_task_over_its_attempts_is_failed_not_run(monkeypatch, ctx):
    ran = []
    monkeypatch.setitem(runner.JOBS, TaskKind.STT, lambda *a: ran.append(1) or {})
    task = submit(ctx)
    ctx.store.start(task.id)
    ctx.store.start(task.id)  # two earlier deliveries died mid-task
    runner.execute_task(ctx, task.id)
    assert ran == [] and ctx.store.get(task.id).error.code == "interrupted"


def test_finished_task_is_not_run_again(monkeypatch, ctx):
    ran = []
    task = run_with(monkeypatch, ctx, lambda *a: ran.append(1) or {})
    runner.execute_task(ctx, task.id)
    assert ran == [1]


def test_progress_span_maps_and_is_monotonic(ctx):
    task = submit(ctx)
    ctx.store.start(task.id)
    reporter = ProgressReporter(ctx.store, task.id)
    callback = reporter.span(10, 90)
    callback(5, 10)
    assert ctx.store.get(task.id).progress == 50
    callback(2, 10)
    assert ctx.store.get(task.id).progress == 50
    with pytest.raises(TaskTimeout):
        ProgressReporter(ctx.store, task.id, time_limit_s=-1).set(60)


def test_progress_moves_by_tenths_between_percent_steps_at_most_every_fine_step(ctx):
    task = submit(ctx)
    ctx.store.start(task.id)
    writes: list[float] = []
    original = ctx.store.set_progress

    def record(task_id: str, value: float) -> None:
        writes.append(value)
        original(task_id, value)

    ctx.store.set_progress = record
    reporter = ProgressReporter(ctx.store, task.id)
    reporter.set(10.25)
    reporter.set(10.56)  # within FINE_STEP_S of the last write: no tenth written
    reporter.set(11.01)  # a whole percent is always written
    assert writes == [10.0, 11.0]
    reporter.FINE_STEP_S = 0.0  # (the interval has passed)
    reporter.set(11.27)
    reporter.set(11.27)  # nothing new
    reporter.set(11.3)
    reporter.set(11.2)  # never backwards
    assert writes == [10.0, 11.0, 11.2, 11.3]
    assert ctx.store.get(task.id).progress == 11.3
    ctx.store.set_progress(task.id, 11.34)  # the store keeps tenths
    assert ctx.store.get(task.id).progress == 11.3


def test_progress_reports_trim_the_heap_through_the_trimmer(ctx):
    from server.worker.memory import HeapTrimmer

    task = submit(ctx)
    ctx.store.start(task.id)
    trims = []
    reporter = ProgressReporter(ctx.store, task.id, trimmer=HeapTrimmer(interval_s=0.0, trim=lambda: trims.append(1)))
    reporter.set(10)
    reporter.set(10)  # no new percent, still a report
    assert len(trims) == 2
