"""Work in a forked process beside the run: the same result as in-process, errors surface."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from rnaheat.pipeline.background import in_background


def _square_sum() -> float:
    return float((np.arange(1000.0) ** 2).sum())


def _bad_input() -> float:
    raise ValueError("gene sets: no gene qualifies")


def _dies() -> float:
    os._exit(3)


class _Unpicklable(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code

    def __reduce__(self):
        raise TypeError("cannot pickle this error")


def _unpicklable_error() -> float:
    raise _Unpicklable(1, "odd failure")


@pytest.mark.parametrize("fork", [True, False])
def test_the_result_is_the_one_computed_here(fork):
    with in_background(_square_sum, what="sum", fork=fork) as result:
        assert result() == _square_sum()
        assert result() == _square_sum()  # asked again: the same answer, not a second run


def test_without_a_child_the_task_runs_once_when_asked():
    calls = []

    def task() -> int:
        calls.append(1)
        return len(calls)

    with in_background(task, what="count", fork=False) as result:
        assert calls == []
        assert result() == 1 and result() == 1
    assert calls == [1]


def test_an_error_in_the_child_is_raised_by_the_parent():
    with (
        pytest.raises(ValueError, match="no gene qualifies"),
        in_background(_bad_input, what="ranked test", fork=True) as result,
    ):
        result()


def test_an_error_that_cannot_travel_arrives_as_its_text():
    with (
        pytest.raises(RuntimeError, match="_Unpicklable: odd failure"),
        in_background(_unpicklable_error, what="ranked test", fork=True) as result,
    ):
        result()


def test_a_child_that_dies_gives_one_clear_error():
    with (
        pytest.raises(RuntimeError, match=r"ranked test stopped without a result \(exit status 3"),
        in_background(_dies, what="ranked test", fork=True) as result,
    ):
        result()


def test_an_abandoned_child_is_ended():
    def forever() -> None:
        while True:
            pass

    before = set(multiprocessing.active_children())
    with pytest.raises(KeyError), in_background(forever, what="loop", fork=True):
        assert len(set(multiprocessing.active_children()) - before) == 1
        raise KeyError("the run failed meanwhile")
    # The child was ended and reaped.
    assert set(multiprocessing.active_children()) <= before
