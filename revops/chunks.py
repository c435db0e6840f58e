"""One bad row must not stop a chunk: find it by halving the chunk, run the rest, park the row.

A chunk of work over an id range runs as one transaction. When it fails for a reason that is not the
database being unreachable (a value no code expected, a constraint the row breaks), the range is halved
and each half run again, down to single ids: everything that can run runs, and each id that fails alone
is returned with its exception. A few such rows cost a few dozen smaller runs (halving 25,000 ids takes
15 levels); a failure that every row shares stops after ``limit`` ids and fails the whole range.
"""

import multiprocessing
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DataError, IntegrityError, InterfaceError, OperationalError, connection, connections

T = TypeVar("T")
A = TypeVar("A")

LIMIT = 20  # ids a range parks before deciding the failure is not the rows' but everyone's
# Not the rows' fault: the database went away or is busy. The caller's retry (Celery's, the resume sweep)
# runs the whole chunk again later; halving it now would only fail 30 more times.
TRANSIENT = (OperationalError, InterfaceError)


Run = Callable[[Callable[..., Any], list[dict]], Iterator[Any]]


def _call(function: Callable[..., Any], kwargs: dict) -> Any:
    return function(**kwargs)


@contextmanager
def local_runner(processes: int, *, initializer: Callable[[int], None] | None = None) -> Iterator[Run]:
    """``run(function, list of kwargs)`` → the results as they finish, for every run inside the block: in
    this process (``processes`` ≤ 1), or in one pool of that many forked processes, each opening its own
    database connection and first calling ``initializer(processes)``. The pool is kept from run to run: a
    full rescore's phases fork once, and each process imports its libraries and loads its models once
    (XGBoost's import alone takes ~2.7 s, scikit-learn's with it; a pool a phase paid it again)."""
    if processes <= 1:
        yield lambda function, jobs: (function(**kwargs) for kwargs in jobs)
        return
    connections.close_all()  # children open their own connections
    with ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=initializer,
        initargs=(processes,) if initializer else (),
    ) as pool:

        def run(function: Callable[..., Any], jobs: list[dict]) -> Iterator[Any]:
            futures = [pool.submit(_call, function, kwargs) for kwargs in jobs]
            for future in as_completed(futures):
                yield future.result()

        yield run


def can_fork() -> bool:
    """Whether work can go to a forked process of its own here: on PostgreSQL (another connection sees
    the committed rows; SQLite's embedded database may be a file another process cannot share safely, or
    memory), outside any transaction (the child would not see its rows, and closing the connection
    before the fork would end it), from the main thread (a fork copies only the calling thread: locks
    other threads hold stay held in the child) of a process allowed children (not a daemonic
    ``multiprocessing`` worker)."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and threading.current_thread() is threading.main_thread()
        and not multiprocessing.current_process().daemon
    )


def can_read_ahead() -> bool:
    """Whether a thread of its own can read from the database beside this one: on PostgreSQL (its own
    connection sees the committed rows; SQLite's embedded database may be memory only this connection
    sees), outside any transaction (it would not see this one's uncommitted rows)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def read_ahead(items: Iterable[A], read: Callable[[A], T]) -> Iterator[T]:
    """``read(item)`` of each of ``items``, in order. Where ``can_read_ahead``, each item's read runs in a
    thread of its own (its own connection, closed after each read) while the caller works on the
    previous one's: the database and the reading's waits overlap the caller's work. A read that fails
    raises here, in its turn; one read runs ahead of the caller, never more."""
    items = list(items)
    if len(items) < 2 or not can_read_ahead():
        for item in items:
            yield read(item)
        return

    def in_thread(item: A) -> T:
        try:
            return read(item)
        finally:
            connections.close_all()  # this thread's own (each thread opens its own connections)

    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as pool:
        pending = pool.submit(in_thread, items[0])
        for item in items[1:]:
            done = pending.result()
            pending = pool.submit(in_thread, item)
            yield done
            del done
        yield pending.result()


class Forked(Generic[T]):
    """``function(**kwargs)`` running in a forked process of its own while this one goes on (see
    ``can_fork``): ``result()`` waits for it and returns its value or raises what it raised (a child that
    died raises ``ChildProcessError``, never hangs); ``close()`` stops it if it still runs. The child is
    daemonic: it does not outlive this process."""

    def __init__(self, function: Callable[..., T], kwargs: dict):
        context = multiprocessing.get_context("fork")
        connections.close_all()  # the child opens its own connection; this one reopens on its next query
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_forked_run, args=(send, function, kwargs), daemon=True)
        self._process.start()
        send.close()  # the child's end: when the child goes, reading says so (EOFError)

    def result(self) -> T:
        try:
            failed, value = self._receive.recv()
        except EOFError:
            self._process.join()
            code = self._process.exitcode
            raise ChildProcessError(f"the process ended (exit code {code}) without a result") from None
        finally:
            self._receive.close()
        self._process.join()
        if failed:
            raise value
        return value

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._receive.close()


def _forked_run(send, function: Callable[..., Any], kwargs: dict) -> None:
    try:
        outcome = (False, function(**kwargs))
    except Exception as error:
        outcome = (True, error)
    try:
        send.send(outcome)
    except Exception as error:  # a result or an exception that does not pickle: say so in words
        send.send((True, RuntimeError(f"the result could not be sent back: {error_words(error)}")))
    finally:
        send.close()
        connections.close_all()


@dataclass
class Failure:
    """Ids ``low``..``high - 1`` (one id, unless the range gave up) that could not run, and why."""

    low: int
    high: int
    error: Exception


@dataclass
class Isolated(Generic[T]):
    """What the parts that ran returned, and what could not run."""

    results: list[T]
    failures: list[Failure]


def range_run_isolated(
    run: Callable[[int, int], T], low: int, high: int, *, limit: int = LIMIT
) -> Isolated[T]:
    """``run(low, high)``; on a failure, the range halved until the failing ids stand alone (see the
    module's docstring). Transient database errors are raised, and so is the chunk's error when more
    than ``limit`` ids fail (a broken job, not a bad row)."""
    try:
        return Isolated([run(low, high)], [])
    except TRANSIENT:
        raise
    except Exception as error:
        out: Isolated[T] = Isolated([], [])
        _halve(run, low, high, error, out, limit)
        if len(out.failures) > limit:
            raise error
        return out


def _halve(run, low: int, high: int, error: Exception, out: Isolated, limit: int) -> None:
    if high - low <= 1 or len(out.failures) >= limit:
        out.failures.append(Failure(low, high, error))
        return
    middle = (low + high) // 2
    for part_low, part_high in ((low, middle), (middle, high)):
        try:
            out.results.append(run(part_low, part_high))
        except TRANSIENT:
            raise
        except Exception as part_error:
            _halve(run, part_low, part_high, part_error, out, limit)


def error_words(error: Exception) -> str:
    """An exception as one line a person can read: what kind of problem, then the message's first line."""
    first = (str(error).strip().splitlines() or [""])[0][:300]
    if isinstance(error, IntegrityError):
        return f"the database refused the result ({first})"
    if isinstance(error, DataError):
        return f"a value does not fit the database ({first})"
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
