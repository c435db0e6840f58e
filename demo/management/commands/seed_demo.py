"""``manage.py seed_demo``: a realistic B2B world over 18 months, the same for the same seed; then its
segments are refreshed and its campaigns measured against their holdouts (again after every full
rescore, through ``campaigns.signals``)."""

import datetime as dt
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Account
from campaigns.measurement import campaigns_measure_all
from campaigns.segments import segments_refresh_all
from demo.writer import SeedRefused, demo_world_seed
from revops import services


class Command(BaseCommand):
    help = (
        "Generate a demo world: accounts with buying teams, junk contacts, engagement and intent events with "
        "their daily rollups, campaigns with their target segments, holdouts, costs and true effects, "
        "opportunities, and the generator's ground-truth propensity; then refresh the segments and measure "
        "the campaigns. The same arguments give identical rows (pass --end-date to pin the period)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=2000, help="Number of accounts (default 2000).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--months", type=int, default=18, help="Length of the simulated period (default 18)."
        )
        parser.add_argument(
            "--end-date",
            type=dt.date.fromisoformat,
            default=None,
            help="YYYY-MM-DD; the period ends the day before (default: today, UTC).",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--if-empty", action="store_true", help="Do nothing (successfully) when accounts already exist."
        )
        mode.add_argument(
            "--append",
            action="store_true",
            help="Add a demo world beside existing accounts (new ids; taken domains, e-mails renamed).",
        )

    def handle(self, *args, accounts, seed, months, end_date, if_empty, append, **options):
        existing = Account.objects.count()
        if existing and if_empty:
            self.stdout.write(f"The database already has {existing} accounts: nothing to do (--if-empty).")
            return
        if existing and not append:
            raise CommandError(
                f"The database already has {existing} accounts. seed_demo does not mix a demo world into "
                "real data: use --if-empty to skip quietly, --append to add a demo world next to them, "
                "or start from an empty database."
            )
        if accounts < 1:
            raise CommandError("--accounts must be at least 1.")
        if months < 4:
            raise CommandError("--months must be at least 4: the ground truth needs 90-day windows.")
        end = end_date or dt.datetime.now(dt.UTC).date()
        verbosity = options.get("verbosity", 1)
        job = services.job_run_create(
            kind="seed_demo",
            params={
                "accounts": accounts,
                "seed": seed,
                "months": months,
                "end_date": end.isoformat(),
                "append": append,
            },
            total=accounts,
        )
        services.job_run_start(job=job)
        bar = tqdm(total=accounts, unit="account", desc="seed_demo", file=sys.stderr, disable=verbosity < 1)
        done = 0

        def on_chunk(n: int) -> None:
            nonlocal done
            done += n
            bar.update(n)
            services.job_run_progress(job=job, progress=done, message=f"{done} of {accounts} accounts")

        try:
            result = demo_world_seed(
                accounts=accounts, seed=seed, end=end, months=months, append=append, on_chunk=on_chunk
            )
        except SeedRefused as exc:
            services.job_run_finish(job=job, ok=False, message=str(exc))
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            services.job_run_finish(job=job, ok=False, message=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            bar.close()
        services.job_run_finish(
            job=job,
            ok=True,
            message=f"{accounts} accounts in {result.total_seconds:.1f} s",
            result={"counts": result.counts, "seconds": round(result.total_seconds, 2)},
        )
        self._summary(result, seed)
        self._measure()

    def _measure(self) -> None:
        """Segments refreshed and campaigns measured now, so the campaign pages have figures before the
        first rescore (which refreshes and measures again: stages and bands change)."""
        started = time.perf_counter()
        segments = segments_refresh_all()
        measured = campaigns_measure_all()
        members = sum(counts["members"] for counts in segments.values())
        line = (
            f"Campaigns: {measured['measured']} measured, {measured['not_started']} not started, "
            f"{measured['failed']} failed; {len(segments)} segments refreshed ({members:,} memberships) "
            f"in {time.perf_counter() - started:.1f} s."
        )
        self.stdout.write(line if not measured["failed"] else self.style.WARNING(line))
        for error in measured["errors"]:
            self.stderr.write(f"  {error}")

    def _summary(self, result, seed: int) -> None:
        out = self.stdout
        out.write(
            self.style.SUCCESS(f"Demo world (seed {seed}) from {result.start} to {result.end} (exclusive):")
        )
        width = max(len(name) for name in result.counts)
        for name, count in sorted(result.counts.items()):
            out.write(f"  {name:<{width}}  {count:>12,}")
        out.write(
            f"Done in {result.total_seconds:.1f} s "
            f"(generation {result.generate_seconds:.1f} s, writes {result.write_seconds:.1f} s)."
        )
