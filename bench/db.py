"""The benchmark's own PostgreSQL database: dropped, recreated and migrated on every run."""

import math
import os
import secrets
import time
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


def database_copy(source: str, target: str) -> bool:
    """Create ``target`` as a copy of ``source`` (``CREATE DATABASE … TEMPLATE …``: minutes faster than
    seeding a world again), replacing any earlier ``target``. PostgreSQL copies only a database nobody is
    connected to: while ``source`` has connections (a benchmark running on it) nothing is done and the
    answer is False. Both names must contain "bench"."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    names = [conninfo_to_dict(url).get("dbname") or "" for url in (source, target)]
    if not all("bench" in name for name in names):
        raise SystemExit(f"Refusing to copy {names[0]!r} to {names[1]!r}: both names must contain 'bench'.")
    source_name, target_name = names
    with psycopg.connect(make_conninfo(target, dbname="postgres"), autocommit=True) as conn:
        busy = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        for _ in range(20):  # a connection just closed (reading the source's marker) takes a moment to end
            if not conn.execute(busy, [source_name]).fetchone()[0]:
                break
            time.sleep(0.25)
        else:
            return False
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target_name)))
        try:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(target_name), sql.Identifier(source_name)
                )
            )
        except psycopg.errors.ObjectInUse:  # someone connected to the source in between
            return False
    return True


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


HIGH_LOAD = 3.0  # load average above which the figures are flagged: other work shares the cores


def load_warning(load: float, when: str, *, what: str = "seconds") -> dict:
    """``{"load_warning": …}`` when ``load`` (a load average, taken ``when``) was above ``HIGH_LOAD``, else
    nothing: the JSON says that other work shared the cores and the ``what`` are pessimistic."""
    if load <= HIGH_LOAD:
        return {}
    return {
        "load_warning": f"load average {load:.1f} on {os.cpu_count()} CPUs {when}: other work shared the "
        f"cores, the {what} are pessimistic"
    }


def growth_exponent(sizes: Sequence[float], values: Sequence[float]) -> float | None:
    """The slope of log(value) against log(size), least squares, to two decimals: 1 grows as the size,
    0 is flat, 2 grows as its square. None for fewer than two sizes or any value that is not positive."""
    if len(sizes) < 2 or len(sizes) != len(values) or any(v is None or v <= 0 for v in values):
        return None
    xs, ys = [math.log(s) for s in sizes], [math.log(v) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    if not spread:
        return None
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread, 2)


def extrapolated(size: float, value: float, exponent: float | None, to: float) -> float | None:
    """``value`` measured at ``size``, carried to ``to`` along the growth exponent:
    ``value × (to / size) ** exponent``."""
    if exponent is None or value is None:
        return None
    return value * (to / size) ** exponent
