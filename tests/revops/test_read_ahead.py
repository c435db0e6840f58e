"""Reading the next item in a thread of its own while the caller works on this one
(``revops.chunks.read_ahead``): the same results in the same order, failures in their turn, at most one
read ahead, and only where another connection sees what this one sees."""

import os
import threading
import time

import pytest
from django.db import connection, transaction

from revops import chunks
from revops.chunks import can_read_ahead, read_ahead

POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
postgres_only = pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (DATABASE_URL)")


def test_reads_ahead_in_another_thread_in_order_one_at_a_time(monkeypatch):
    monkeypatch.setattr(chunks, "can_read_ahead", lambda: True)
    threads, running, most = [], [0], [0]
    lock = threading.Lock()

    def read(n):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threads.append(threading.current_thread())
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return n * n

    out = []
    for value in read_ahead(range(6), read):
        time.sleep(0.02)  # the caller's work, while the next one is read
        out.append(value)
    assert out == [0, 1, 4, 9, 16, 25]
    assert threading.current_thread() not in threads and most[0] == 1


def test_a_failed_read_raises_in_its_turn(monkeypatch):
    monkeypatch.setattr(chunks, "can_read_ahead", lambda: True)

    def read(n):
        if n == 2:
            raise ValueError("row 2 is broken")
        return n

    got = []
    with pytest.raises(ValueError, match="row 2"):
        for value in read_ahead([0, 1, 2, 3], read):
            got.append(value)
    assert got == [0, 1]


def test_without_a_second_connection_it_reads_here_in_turn(monkeypatch):
    monkeypatch.setattr(chunks, "can_read_ahead", lambda: False)
    seen = []
    assert list(read_ahead([1, 2, 3], lambda n: seen.append(threading.current_thread()) or n)) == [1, 2, 3]
    assert seen == [threading.current_thread()] * 3
    assert list(read_ahead([], lambda n: n)) == []


@pytest.mark.django_db
def test_not_inside_a_transaction_nor_on_sqlite():
    with transaction.atomic():
        assert not can_read_ahead()  # the thread's connection would not see this transaction's rows
    if connection.vendor == "sqlite":
        assert not can_read_ahead()


@postgres_only
@pytest.mark.django_db(transaction=True)  # the thread's connection must see the rows: committed
def test_the_thread_reads_what_this_one_committed_with_a_connection_of_its_own():
    from django.contrib.auth import get_user_model

    from tests.revops.factories import UserFactory

    UserFactory.create_batch(3)
    assert can_read_ahead()

    def backend() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    read = list(read_ahead([1, 2], lambda n: (get_user_model().objects.count(), backend())))
    assert [count for count, _ in read] == [3, 3]
    assert backend() not in {pid for _, pid in read}  # a connection of its own
    assert get_user_model().objects.count() == 3  # this thread's goes on
