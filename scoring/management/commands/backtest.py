"""``python manage.py backtest``: the in-market model against its baselines on a rolling-origin split."""

import datetime
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from scoring.learned import backtest as B

COLUMNS = ("roc_auc", "pr_auc", "top_decile_lift", "top_decile_capture", "precision_at_100", "brier")


def parse_day(value: str | None, option: str) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from exc


def decision_arguments(parser, *, metavar: str, what: str) -> None:
    """``--exclude`` and ``--confirm``: people's decisions on ``what`` a leakage warning named."""
    parser.add_argument(
        "--exclude", nargs="+", action="extend", default=[], metavar=metavar,
        help=f"leave these {what} out of training (filled in after the outcome); the decision is kept, "
        "audited, for every later training",
    )  # fmt: skip
    parser.add_argument(
        "--confirm", nargs="+", action="extend", default=[], metavar=metavar,
        help=f"these {what} are known before the outcome: their leakage warnings are resolved (kept,"
        " audited)",
    )  # fmt: skip


def table(report: dict) -> str:
    lines = [f"{'model':<22}" + "".join(f"{c:>20}" for c in COLUMNS)]
    for name, values in report["models"].items():
        cells = "".join(f"{'-' if values.get(c) is None else format(values[c], '.4f'):>20}" for c in COLUMNS)
        lines.append(f"{name:<22}{cells}")
    champion = report.get("champion")
    if champion:
        lines.append(f"champion: {champion['family']} (pooled ROC AUC {champion['roc_auc']:.4f})")
        for name, d in champion["differences"].items():
            ci = "" if not d["ci"] else f", 95 % interval {d['ci'][0]:+.4f} … {d['ci'][1]:+.4f}"
            lines.append(f"  ahead of {name} by {d['delta']:+.4f}{ci}")
    groups = (report.get("feature_groups") or {}).get("groups") or []
    if groups:
        lines.append("what each feature group earns (the champion refit without it, last fold):")
        lines.extend(f"  {g['group']:<22}{g['earns']:+.4f}" for g in groups)
    for dropped in report.get("dropped_features") or []:
        lines.append(f"left out {dropped.get('feature') or dropped.get('column')}: {dropped['reason']}")
    for warning in report["leakage_warnings"]:
        status = {"confirmed": " [confirmed known before the outcome]", "notice": " [notice]"}.get(
            warning.get("status"), ""
        )
        lines.append(f"LEAKAGE?{status} {warning['warning']}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Backtest the in-market model (rolling origin): XGBoost, logistic regression and their blend against "
        "plain XGBoost, naive Bayes, the rules and (demo data) two oracles; the best family is the champion."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", help="the last day the backtest may know, YYYY-MM-DD (default: data end)"
        )
        parser.add_argument("--horizon", type=int, default=90, help="days of the prediction window")
        parser.add_argument("--folds", type=int, default=3, help="test snapshots (one a month)")
        parser.add_argument("--json", action="store_true", help="print the whole report as JSON")

    def handle(self, *args, **options):
        as_of = parse_day(options["as_of"], "--as-of")
        quiet = options["verbosity"] == 0

        def progress(message: str) -> None:
            if not quiet:
                print(message, file=sys.stderr, flush=True)

        report = B.run(
            as_of=as_of, horizon_days=options["horizon"], folds=options["folds"], progress=progress
        )
        if not report["models"]:
            raise CommandError("not enough labelled history for a backtest")
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(table(report))
            self.stdout.write(f"({report['seconds']['total']} s)")
