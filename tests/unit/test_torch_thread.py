"""engines/torch_thread.py: torch work on one thread of its own, with its own torch thread count."""

from __future__ import annotations

import threading

import pytest

torch = pytest.importorskip("torch")

from engines.torch_thread import TorchThread  # noqa: E402


@pytest.fixture
def two_threads_here():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def where() -> tuple[str, int]:
    return threading.current_thread().name, torch.get_num_threads()


def test_runs_on_one_named_thread_with_its_own_torch_setting(two_threads_here) -> None:
    runner = TorchThread(1, "encoder-x")
    first, second = runner.run(where), runner.run(where)
    assert first == second  # the same thread every time
    name, threads = first
    assert name.startswith("encoder-x") and name != threading.current_thread().name
    assert threads == 1
    assert torch.get_num_threads() == 2  # the caller's setting is untouched


def test_zero_runs_in_the_calling_thread(two_threads_here) -> None:
    assert TorchThread(0, "unused").run(where) == (threading.current_thread().name, 2)


def test_arguments_results_and_errors_cross_the_thread() -> None:
    runner = TorchThread(1, "encoder-y")
    assert runner.run(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(ZeroDivisionError):
        runner.run(lambda: 1 / 0)
    assert runner.run(lambda: "still serving") == "still serving"
