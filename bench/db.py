"""The benchmark's own PostgreSQL database: dropped, recreated and migrated on every run."""

import math
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/revops_bench"
_SECRET_KEY = secrets.token_urlsafe(50)


def database_url(cli_value: str | None) -> str:
    """--database-url, else $BENCH_DATABASE_URL, else the default local database."""
    return cli_value or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL


def database_recreate(url: str) -> None:
    """Drop and create the database named in ``url``; refuse any name without "bench" in it."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"The benchmark needs PostgreSQL, not {parts.scheme or url!r}.")
    name = conninfo_to_dict(url).get("dbname") or ""
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop database {name!r}: its name must contain 'bench'.")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def server_environment(url: str) -> dict[str, str]:
    """Environment for this process and the servers it starts: the bench database and settings."""
    return {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        # Production mode must be configured explicitly (config.settings refuses to guess).
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or _SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_DEBUG": "false",
    }


_ready_url: str | None = None


def django_ready(url: str) -> None:
    """Point Django at the bench database (once per process), then migrate it."""
    global _ready_url
    if _ready_url == url:
        return
    if _ready_url is not None:
        raise SystemExit("All sections of one run share one database.")
    os.environ.update(server_environment(url))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    _ready_url = url


def ready_url() -> str | None:
    """The database Django points at in this process (``django_ready``), or None before it does."""
    return _ready_url


@contextmanager
def queries_counted() -> Iterator[list[int]]:
    """Count the SQL statements run inside the block: ``with queries_counted() as n: …; n[0]``."""
    from django.db import connection

    counter = [0]

    def count(execute, sql, params, many, context):
        counter[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield counter


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 for none): ``percentile(xs, 0.95)``."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1)]
