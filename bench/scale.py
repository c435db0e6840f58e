"""Scale benchmark (issue 16): each phase's time and peak memory on worlds of several sizes (by default
25,000, 50,000 and 100,000 accounts), the log-log growth exponent of every figure, and the figure carried
to a million accounts along it — the cost at 1M as a measured extrapolation, not a guess.

Each size has a world of its own in a kept database (``--scale-url``, the train section's
``--train-scale-url`` template by default, so both share their worlds): kept, else copied from the rescore
section's database when that holds the world of this size and seed and nobody is connected to it, else
seeded by the rescore section's helpers (``bench.train.scale_world``). Then per size, in a process of its
own (Django points at one database per process), from the world as seeded:

1. the rules rescore (``full_rescore_local(rules=True, models=False)`` in ``--scale-processes``
   processes, in a fresh process as ``manage.py rescore`` runs): seconds, each phase's seconds, the peak
   RSS of the process and of its largest chunk process, the CPU of both and of the database;
2. the champions as the learned section sets them up (untimed: an in-market model on a modest sample,
   the look-alike models; kept in ``bench_meta``), then the learned rescore (``rules=False``) in as many
   processes, in a fresh process (the chunk pool forks, and XGBoost is not fork-safe): the same figures;
3. with ``--scale-train``, the whole ``manage.py train`` command in a process of its own
   (``bench.train.command_process``): seconds, peak RSS, CPU.

No targets: the figures, their growth exponents, and their values extrapolated to ``--scale-to``.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
from types import SimpleNamespace

from . import db as bench_db
from . import learned, train
from . import rescore as world
from .db import extrapolated, growth_exponent, server_environment

DEFAULT_SIZES = "25000,50000,100000"
# The figures whose growth is reported (dotted paths into a run's dict, by prefix).
GROWING = ("seconds", "phases_s.", "peak_rss", "cpu_s")


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--scale",
        metavar="ACCOUNTS,…",
        default=DEFAULT_SIZES,
        help="world sizes in accounts (default: %(default)s); each in a database of its own",
    )
    group.add_argument(
        "--scale-url",
        default=train.SCALE_URL,
        help="database of each world: {k} is the accounts in thousands, {accounts} the accounts (default: "
        "%(default)s, the train section's --train-scale-url: the two share their worlds); a size the "
        "rescore section's database holds (--rescore-database-url) is copied from it rather than seeded",
    )
    group.add_argument(
        "--scale-processes",
        type=int,
        default=2,
        help="local processes of the rules and the learned rescore (default: %(default)s)",
    )
    group.add_argument(
        "--scale-train",
        action="store_true",
        help="also time the whole `manage.py train` command at each size (minutes each: about 7 at 100,000)",
    )
    group.add_argument(
        "--scale-to",
        type=int,
        default=1_000_000,
        help="accounts the figures are extrapolated to along their growth exponent (default: %(default)s)",
    )


def sizes_of(text: str) -> list[int]:
    """``"25000,50000"`` → ``[25000, 50000]``, sorted, without repeats."""
    return sorted({int(n) for n in text.split(",") if n.strip()})


def figures(run: dict, prefix: str = "") -> dict[str, float]:
    """A run's numbers whose growth is reported, by dotted path
    (``learned_rescore.phases_s.account_models``)."""
    out = {}
    for key, value in run.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(figures(value, f"{path}."))
        elif isinstance(value, int | float) and not isinstance(value, bool) and _growing(path):
            out[path] = value
    return out


def _growing(path: str) -> bool:
    """Whether a figure's growth is reported: its name under the run's part starts with ``GROWING``."""
    return path.split(".", 1)[-1].startswith(GROWING)


def growth(runs: dict[int, dict], to: int) -> dict[str, dict]:
    """Per figure: its value at each size, the log-log growth exponent, and the value at the largest size
    carried to ``to`` accounts (``value × (to / size) ** exponent``). A figure missing at a size, or not
    positive, has no exponent."""
    sizes = sorted(runs)
    by_size = {n: figures(runs[n]) for n in sizes}
    paths = sorted({path for values in by_size.values() for path in values})
    out = {}
    for path in paths:
        values = [by_size[n].get(path) for n in sizes]
        exponent = None if None in values else growth_exponent(sizes, values)
        at = extrapolated(sizes[-1], values[-1], exponent, to)
        out[path] = {
            "values": {str(n): v for n, v in zip(sizes, values, strict=True)},
            "exponent": exponent,
            "extrapolated": None if at is None else round(at, 2 if at < 10 else 1),
        }
    return out


def _loads(run: dict) -> list[float]:
    """Every 1-minute load average recorded in a run (before and after each measurement)."""
    out = []
    for key, value in run.items():
        if isinstance(value, dict):
            out += _loads(value)
        elif key.startswith("load_average_") and value:
            out.append(value[0])
    return out


# --- one size, in a process of its own ------------------------------------------------------------------
def _size_process(url: str, args: argparse.Namespace) -> dict:
    """``_size_main`` in a fresh Python process pointed at ``url``."""
    job = {
        "url": url,
        "processes": max(1, args.scale_processes),
        "learned_train_accounts": args.learned_train_accounts,
        "learned_train_snapshots": args.learned_train_snapshots,
        "learned_retrain": args.learned_retrain,
    }
    argv = [sys.executable, "-m", "bench.scale", "--size", json.dumps(job)]
    env = {**os.environ, **server_environment(url)}
    done = subprocess.run(argv, cwd=world.ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"the scale run on {url} failed in its process (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _size_main(job: dict) -> None:
    """The other end of ``_size_process``: the world back as seeded, the rules rescore, the champions
    (untimed), the learned rescore; the two rescores each in a fresh process."""
    url, processes = job["url"], job["processes"]
    bench_db.django_ready(url)
    marker = world.world_marker(url)
    as_of = datetime.date.fromisoformat(marker["end_date"]) - datetime.timedelta(days=1)
    world.world_reset(marker)
    learned.clear_learned()
    print(f"bench: scale: rules rescore of {marker['accounts']:,} accounts …", file=sys.stderr, flush=True)
    rules = learned.pipeline_process(url, as_of, rules=True, models=False, processes=processes)
    options = SimpleNamespace(**{k: job[k] for k in job if k.startswith("learned_")})
    champions = learned.champions_ensure(options, as_of)
    learned.clear_learned()
    print(f"bench: scale: learned rescore of {marker['accounts']:,} accounts …", file=sys.stderr, flush=True)
    learned_run = learned.pipeline_process(url, as_of, rules=False, processes=processes)
    out = {"as_of": as_of.isoformat(), "rules_rescore": rules, "learned_rescore": learned_run}
    print(json.dumps({**out, "champions": champions}))


# --- the section ----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    sizes = sizes_of(args.scale)
    if not sizes:
        raise SystemExit("--scale needs at least one size")
    urls = {n: args.scale_url.format(k=n // 1000, accounts=n) for n in sizes}
    if len(set(urls.values())) < len(urls):
        raise SystemExit(f"--scale-url gives two sizes one database ({urls}): use {{accounts}}")
    source = world.shared_database_url(args, None)  # the rescore section's world, to copy from
    runs, worlds, champions = {}, {}, {}
    for accounts in sizes:
        url = urls[accounts]
        if "bench" not in url.rsplit("/", 1)[-1]:
            raise SystemExit(f"Refusing to use {url!r}: the database name must contain 'bench'.")
        marker, how = train.scale_world(
            url, accounts=accounts, seed=args.rescore_seed, source=source, flag="--scale-url"
        )
        worlds[str(accounts)] = {
            "database": url,
            "world": how,
            "seed": marker["seed"],
            **{k: marker["counts"][k] for k in ("accounts", "contacts", "events")},
            "seeded_at": marker["seeded_at"],
        }
        measured = _size_process(url, args)
        champions[str(accounts)] = measured.pop("champions")
        if args.scale_train:
            print(f"bench: scale: the train command at {accounts:,} accounts …", file=sys.stderr, flush=True)
            command = train.command_process(url)
            measured["train_command"] = {k: v for k, v in command.items() if k != "progress"}
        runs[accounts] = measured
    loads = [x for measured in runs.values() for x in _loads(measured)]
    result = {
        "what": "per world size, each in a fresh process from the world as seeded: the rules rescore "
        f"(full_rescore_local rules only, {args.scale_processes} processes), the learned rescore "
        "(rules=False, after the champions' untimed setup)"
        + (", the whole train command" if args.scale_train else ""),
        "sizes": sizes,
        "worlds": worlds,
        "runs": {str(n): runs[n] for n in sizes},
        "champions": champions,
        "extrapolated_to": args.scale_to,
        "growth": growth(runs, args.scale_to),
        "growth_note": "exponent: the slope of log(value) against log(accounts) over the sizes (1 grows as "
        "the accounts, 0 is flat); extrapolated: the value at the largest size × (extrapolated_to / that "
        "size) ** exponent",
    }
    result.update(bench_db.load_warning(max(loads, default=0.0), "(the highest) around the runs"))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--size":
        _size_main(json.loads(sys.argv[2]))
    else:
        sys.exit("usage: python -m bench --only scale (this module runs one size with --size)")
