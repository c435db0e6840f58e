"""``python -m bench [--only ingest,rescore] [--output FILE] [section options]``: benchmarks, as JSON.

A small dispatcher: each section is a module with ``add_arguments(group)`` and ``run(args) -> dict``;
add later ones to ``SECTIONS``. See docs/benchmarks.md.
"""

import argparse
import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime

from .db import DEFAULT_DATABASE_URL, database_url

SECTIONS = {
    "ingest": "bench.ingest",
    "rescore": "bench.rescore",
    "learned": "bench.learned",
    "train": "bench.train",
    "auc": "bench.auc",
    "campaigns": "bench.campaigns",
    "plans": "bench.plans",
    "whatif": "bench.whatif",
    "pages": "bench.pages",
    "scale": "bench.scale",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", help=f"comma-separated sections to run (default: all of {', '.join(SECTIONS)})"
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL database to DROP, recreate and use "
        f"(default: $BENCH_DATABASE_URL or {DEFAULT_DATABASE_URL}); its name must contain 'bench'",
    )
    parser.add_argument("--output", metavar="FILE", help="also write the JSON to FILE")
    modules = {name: importlib.import_module(path) for name, path in SECTIONS.items()}
    for name, module in modules.items():
        module.add_arguments(parser.add_argument_group(name))
    args = parser.parse_args(argv)
    args.database_url = database_url(args.database_url)
    chosen = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")

    results: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
    }
    for name in chosen:
        print(f"bench: running {name} …", file=sys.stderr, flush=True)
        results[name] = modules[name].run(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
