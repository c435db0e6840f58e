"""Work in a forked process of its own (``revops.chunks.Forked``) only where the child sees what the
parent sees, and a child that dies is an error, never a wait."""

import os
import threading
import time

import pytest
from django.db import transaction

from revops.chunks import Forked, can_fork, local_runner

POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
postgres_only = pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (DATABASE_URL)")


def _count_users() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.count()


@postgres_only
@pytest.mark.django_db(transaction=True)  # the child's connection must see the rows: committed
def test_a_forked_process_reads_what_this_one_committed_and_returns_its_result():
    from tests.revops.factories import UserFactory

    UserFactory.create_batch(3)
    assert can_fork()
    child = Forked(os.getpid, {})
    assert child.result() != os.getpid()  # another process …
    assert Forked(_count_users, {}).result() == 3  # … that reads the committed rows
    assert _count_users() == 3  # and this process's connection opens again


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_child_that_dies_raises_instead_of_being_waited_for():
    with pytest.raises(ChildProcessError):
        Forked(_die, {}).result()
    with pytest.raises(ZeroDivisionError):  # what it raised, raised here
        Forked(_divide, {"by": 0}).result()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_closing_stops_a_child_that_still_runs(tmp_path):
    pid_file = tmp_path / "pid"
    child = Forked(_sleep_long, {"pid_file": pid_file})
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    started = time.monotonic()
    child.close()
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(pid, 0)


def _sleep_long(pid_file) -> None:
    written = pid_file.with_suffix(".tmp")
    written.write_text(str(os.getpid()))
    written.rename(pid_file)  # whole when it appears
    time.sleep(60)


def _die() -> None:
    os._exit(3)


def _divide(by: int) -> float:
    return 1 / by


@pytest.mark.django_db
def test_no_fork_inside_a_transaction_on_sqlite_or_from_another_thread():
    """Inside a transaction the child would not see its rows (and closing the connection would end it);
    SQLite's database may be memory; a fork from a thread copies only that thread."""
    with transaction.atomic():
        assert not can_fork()
    if not POSTGRES:
        assert not can_fork()
    seen = []
    worker = threading.Thread(target=lambda: seen.append(can_fork()))
    worker.start()
    worker.join()
    assert seen == [False]


def _pid_and_users(value: int) -> tuple[int, int, int]:
    return os.getpid(), value, _count_users()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_local_pool_forks_once_for_every_run_of_its_block():
    """A full rescore's phases share one pool: the same processes run each phase's chunks (each imports
    and loads its models once), each with a connection of its own that sees what was committed."""
    from tests.revops.factories import UserFactory

    UserFactory.create_batch(2)
    started: list[int] = []
    with local_runner(2, initializer=lambda processes: started.append(processes)) as run:
        first = list(run(_pid_and_users, [{"value": v} for v in range(6)]))
        UserFactory.create()  # this process's connection opens again between the runs
        second = list(run(_pid_and_users, [{"value": v} for v in range(6, 12)]))
    assert sorted(v for _pid, v, _n in first) == list(range(6))
    assert sorted(v for _pid, v, _n in second) == list(range(6, 12))
    assert {n for _pid, _v, n in first} == {2} and {n for _pid, _v, n in second} == {3}
    pids = {pid for pid, _v, _n in first + second}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # never more processes than the pool's
    assert started == []  # the initializer ran in the children, not here


def test_one_process_runs_in_this_one():
    with local_runner(1) as run:
        assert [pid for pid, _v in run(_pid_and_value, [{"value": 1}, {"value": 2}])] == [os.getpid()] * 2


def _pid_and_value(value: int) -> tuple[int, int]:
    return os.getpid(), value
