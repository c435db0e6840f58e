"""``python manage.py rescore``: rescore every contact and account (or some) with a progress bar."""

import datetime
import json
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from scoring import metrics
from scoring.choices import ScoringModelKind
from scoring.learned import registry
from scoring.learned.predictions import accounts_rescore
from scoring.models import AccountModelScore, Ruleset
from scoring.pipeline import failed_words, full_rescore_local
from scoring.rescore import NoPublishedRuleset, rescore_all, rescore_contacts
from scoring.store import today


class Command(BaseCommand):
    help = (
        "Rescore contacts and accounts with the published rules (or --ruleset N), then their learned "
        "scores (in market, profile fit, qualified, buying stage; persona fit) with the champion models, "
        "vectorised and in chunks; only changed scores are written. --contacts / --accounts rescore "
        "just those. --backfill-months N first scores the accounts as of each of the N previous month "
        "ends, dated then, so that a new installation starts with score and stage history."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ruleset", type=int, help="version number to score with (default: published)")
        parser.add_argument("--as-of", help="score as of this day, YYYY-MM-DD (default: today)")
        parser.add_argument("--contacts", type=int, nargs="+", help="only these contact ids")
        parser.add_argument("--accounts", type=int, nargs="+", help="only these account ids (learned scores)")
        parser.add_argument("--rules-only", action="store_true", help="skip the learned scores")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
        parser.add_argument(
            "--processes", type=int, default=1, help="spread the chunks over this many local processes"
        )
        parser.add_argument(
            "--backfill-months",
            type=int,
            help="first score the learned account scores as of each of the N previous month ends, dated "
            "then (skipped once learned scores exist)",
        )

    def handle(self, *args, ruleset=None, as_of=None, contacts=None, accounts=None, **options):
        as_json = options["json"]
        try:
            day = datetime.date.fromisoformat(as_of) if as_of else None
        except ValueError as exc:
            raise CommandError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from exc
        version = None
        if ruleset is not None:
            version = Ruleset.objects.filter(number=ruleset).first()
            if version is None:
                raise CommandError(f"--ruleset: there is no version {ruleset}")
        backfill = options["backfill_months"]
        if backfill is not None:
            self._backfill_check(backfill, options, contacts or accounts)
        started = time.perf_counter()
        try:
            if backfill:
                result_backfill = self._backfill(backfill, day or today(), options)
            if contacts or accounts:
                if version is not None:
                    raise CommandError(
                        "--contacts/--accounts score with the published version; drop --ruleset"
                    )
                result = rescore_contacts(contact_ids=contacts or (), account_ids=accounts or (), as_of=day)
                if not options["rules_only"]:
                    result["learned"] = accounts_rescore(account_ids=result.pop("account_ids"), as_of=day)
            else:
                with tqdm(total=0, unit="chunk", disable=options["verbosity"] == 0 or as_json) as bar:

                    def progress(done: int, total: int) -> None:
                        bar.total = total
                        bar.update(done - bar.n)

                    processes = max(1, options["processes"])
                    result = rescore_all(ruleset=version, as_of=day, progress=progress, processes=processes)
                    if not options["rules_only"]:
                        bar.reset()
                        result["learned"] = full_rescore_local(
                            rules=False, as_of=day, processes=processes, progress=progress
                        )
        except NoPublishedRuleset as exc:
            raise CommandError(str(exc)) from exc
        if backfill:
            result["backfill"] = result_backfill
        # Where contacts stand after the run, counted as every page counts them (scoring.metrics).
        result["lifecycle_now"] = metrics.contacts_by_stage()
        result["seconds"] = round(time.perf_counter() - started, 2)
        failed = (
            (result.get("learned") or {}).pop("failed", []) if isinstance(result.get("learned"), dict) else []
        )
        if as_json:
            self.stdout.write(_json_dumps({**result, "failed": failed} if failed else result))
        else:
            now = result.pop("lifecycle_now")
            self.stdout.write(self.style.SUCCESS(", ".join(f"{k}: {v}" for k, v in result.items())))
            self.stdout.write(_lifecycle_words(now, result.get(metrics.MEETS_MQL_DEFINITION)))
        if failed:  # the others were scored; these keep their previous scores until they can be
            self.stderr.write(self.style.WARNING(failed_words(failed)))

    def _backfill_check(self, months: int, options: dict, some: bool) -> None:
        if not 1 <= months <= 36:
            raise CommandError("--backfill-months: between 1 and 36")
        if options["rules_only"] or some:
            raise CommandError("--backfill-months scores every account's learned scores: drop --rules-only, "
                               "--contacts and --accounts")  # fmt: skip
        if registry.champion(ScoringModelKind.IN_MARKET) is None:
            raise CommandError("--backfill-months needs an in-market champion: run `manage.py train` first")

    def _backfill(self, months: int, day: datetime.date, options: dict) -> list[dict] | dict:
        """The learned account scores as of each previous month end, oldest first, dated at noon that day —
        only into an empty history (dated before existing scores, it would interleave with theirs)."""
        if AccountModelScore.objects.exists():
            skipped = "learned scores exist already: a backfill only fills an empty history"
            if options["verbosity"] and not options["json"]:
                self.stdout.write(f"backfill skipped: {skipped}")
            return {"skipped": skipped}
        ends, first = [], day.replace(day=1)
        for _ in range(months):
            first = (first - datetime.timedelta(days=1)).replace(day=1)
            ends.append(_month_end(first))
        out, processes = [], max(1, options["processes"])
        for end in sorted(ends):
            noon = datetime.datetime.combine(end, datetime.time(12), tzinfo=datetime.UTC)
            done = full_rescore_local(rules=False, as_of=end, now=noon, processes=processes)
            if options["verbosity"] and not options["json"]:
                self.stdout.write(f"backfilled {end}: {done.get('account_models_written', 0)} accounts")
            out.append({"as_of": end.isoformat(), "accounts_written": done.get("account_models_written", 0)})
        return out


def _lifecycle_words(now: dict[str, int], meets: int | None) -> str:
    """The contacts per stage after the run, each named as the pages name it, and the run's own figure
    under its own name (meeting the MQL definition is not being an MQL)."""
    stages = "; ".join(f"{metrics.stage_now_label(stage)}: {n:,}" for stage, n in now.items())
    line = f"Lifecycle now (contacts at each stage, as the contacts list counts them): {stages}"
    if meets is not None:
        line += (
            f"\n{metrics.MEETS_MQL_DEFINITION_LABEL}: {meets:,} (contacts whose score in this run meets the "
            "MQL definition; only leads and recycled contacts become MQLs by it)"
        )
    return line


def _month_end(first: datetime.date) -> datetime.date:
    return (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)


def _json_dumps(value) -> str:
    return json.dumps(value, indent=2, default=str)
