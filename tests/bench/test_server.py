"""The benchmarks' reading of the database server's CPU (never a timing target)."""

import os
import subprocess
import sys

import psycopg
import pytest
from django.db import connection

from bench import server
from bench.server import server_cpu


@pytest.mark.skipif(
    connection.vendor != "postgresql" or not os.path.exists("/proc/self/stat"),
    reason="reads a PostgreSQL server's processes on this machine",
)
def test_the_servers_cpu_counts_the_work_of_a_connection_that_has_closed(db):
    own = connection.settings_dict
    host, port = own["HOST"] or "127.0.0.1", own["PORT"] or 5432
    login = own["USER"] + (f":{own['PASSWORD']}" if own.get("PASSWORD") else "")
    url = f"postgres://{login}@{host}:{port}/{own['NAME']}"
    before = server_cpu(url)
    with psycopg.connect(url) as other:  # a connection of its own, gone before the second reading
        other.execute("SELECT count(*) FROM generate_series(1, 5000000)").fetchone()
    assert server_cpu(url) - before > 0.05


def test_the_steal_share_is_a_share_of_the_ticks_between_two_reads():
    before = server.machine_times()
    sum(i * i for i in range(200_000))  # some ticks pass
    after = server.machine_times()
    share = server.steal_share(before, after)
    assert 0.0 <= share <= 1.0
    assert after[1] >= before[1] and after[0] >= before[0]
    assert server.steal_share((5, 100), (15, 200)) == 0.1
    assert server.steal_share((5, 100), (5, 100)) == 0.0  # no ticks: no share, not a division by zero


def test_the_cpu_of_children_counts_once_they_have_exited():
    before = server.children_cpu()
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    assert server.children_cpu() > before
