"""One computation in a forked process while the run goes on with the next stages.

A run on two cores leaves one idle while a stage runs on the other; work that needs only what
is already computed (the ranked gene-set test needs only the DE table) runs beside it. The
child is forked, so it sees its inputs without copying them; only its result comes back.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any, TypeVar

__all__ = ["can_fork", "in_background", "leave_signals_to_parent"]

T = TypeVar("T")


def can_fork() -> bool:
    """Whether processes can be forked here (a forked child sees the parent's data)."""
    return "fork" in multiprocessing.get_all_start_methods()


def leave_signals_to_parent() -> None:
    """Set up a forked helper: the parent handles Ctrl-C and ends its helpers when it stops."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _serve(task: Callable[[], Any], connection: Connection) -> None:
    """The child: run ``task`` and send back ``(True, result)`` or ``(False, error)``."""
    leave_signals_to_parent()
    try:
        outcome = (True, task())
    except Exception as err:  # every error goes back to the parent, which raises it
        outcome = (False, err)
    try:
        connection.send(outcome)
    except Exception as err:  # what cannot be pickled goes back as text
        ok, value = outcome
        text = (
            f"its result cannot be sent back ({err})" if ok else f"{type(value).__name__}: {value}"
        )
        connection.send((False, RuntimeError(text)))
    connection.close()


@contextlib.contextmanager
def in_background(task: Callable[[], T], /, *, what: str, fork: bool) -> Iterator[Callable[[], T]]:
    """Run ``task`` in a forked child while the caller does other work.

    Parameters
    ----------
    task
        The computation (it reads what the parent holds at the fork; it must not write files).
    what
        What it computes, for the message when the child dies without a result.
    fork
        Whether to use a child at all; without one (or where processes cannot be forked) the
        task runs in this process when its result is first asked for.

    Yields
    ------
    Callable
        Waits for the result and returns it, or raises the task's error. A task not finished
        when the block ends (an error in it) is abandoned: its child is ended.
    """
    if not (fork and can_fork()):
        done: list[T] = []

        def here() -> T:
            if not done:
                done.append(task())
            return done[0]

        yield here
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_serve, args=(task, sender), daemon=True)
    child.start()
    sender.close()
    outcome: list[tuple[bool, Any]] = []

    def result() -> T:
        if not outcome:
            try:
                outcome.append(receiver.recv())
            except EOFError:
                child.join()
                raise RuntimeError(
                    f"the {what} stopped without a result (exit status {child.exitcode})"
                ) from None
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    try:
        yield result
    finally:
        receiver.close()
        if child.is_alive():
            child.terminate()
        child.join()
