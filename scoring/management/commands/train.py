"""``python manage.py train``: train the in-market model, backtest it, register the new version."""

import json
import re
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from scoring.choices import ColumnDecisionKind, ScoringModelKind
from scoring.learned import decisions
from scoring.learned.jobs import models_train_all
from scoring.learned.registry import RegistryError, champion
from scoring.management.commands.backtest import decision_arguments, parse_day, table
from scoring.models import ScoringModel

FEATURE_NAME = re.compile(r"^[a-z0-9_]+$")


class Command(BaseCommand):
    help = (
        "Train a new in-market model version (backtested) and the look-alike fit models; each becomes "
        "champion only if it beats its champion by the margin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="the last day training may know, YYYY-MM-DD (default: data end)")
        parser.add_argument("--horizon", type=int, default=90, help="days of the prediction window")
        parser.add_argument("--folds", type=int, default=3, help="backtest test snapshots")
        parser.add_argument("--margin", type=float, default=0.005, help="ROC AUC a challenger must gain")
        parser.add_argument("--json", action="store_true", help="print the registered versions as JSON")
        parser.add_argument(
            "--if-none", action="store_true", help="do nothing when an in-market champion exists (make demo)"
        )
        decision_arguments(parser, metavar="FEATURE", what="in-market features")

    def handle(self, *args, **options):
        as_of = parse_day(options["as_of"], "--as-of")
        quiet = options["verbosity"] == 0
        current = champion()
        if options["if_none"] and current is not None:
            self.stdout.write(f"{current} is the champion: nothing to train (drop --if-none to retrain).")
            return

        self._decide(options["exclude"], options["confirm"], current)

        def progress(message: str, step: int | None = None) -> None:
            if not quiet:
                print(message, file=sys.stderr, flush=True)

        try:
            result = models_train_all(
                as_of=as_of,
                horizon_days=options["horizon"],
                margin=options["margin"],
                folds=options["folds"],
                progress=progress,
            )
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        model = ScoringModel.objects.get(pk=result["in_market"]["id"])
        summary = {
            "kind": model.kind,
            "version": model.version,
            "status": model.status,
            "reason": model.reason,
            "train_start": model.train_start.isoformat(),
            "train_end": model.train_end.isoformat(),
            "features": len(model.features),
            "artefact": model.artefact_path,
            "sha256": model.artefact_sha256,
            "backtest": {name: values.get("roc_auc") for name, values in model.metrics["models"].items()},
            "fit_models": {kind: value for kind, value in result.items() if kind != "in_market"},
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        self.stdout.write(f"{model}: {model.reason}")
        self.stdout.write(table(model.metrics))
        for kind, value in summary["fit_models"].items():
            if "skipped" in value:
                self.stdout.write(f"{kind}: not trained — {value['skipped']}")
                continue
            auc = "n/a" if value["roc_auc"] is None else f"{value['roc_auc']:.3f}"
            status = f"{value['status']}, cross-validated ROC AUC {auc}"
            self.stdout.write(f"{kind} v{value['version']} ({status}): {value['reason']}")

    def _decide(self, exclude: list[str], confirm: list[str], current) -> None:
        """Record the decisions on features before training (checked first: a name the champion does not
        know is refused, nothing recorded)."""
        if not exclude and not confirm:
            return
        both = set(exclude) & set(confirm)
        if both:
            raise CommandError(f"a feature cannot be both excluded and confirmed: {', '.join(sorted(both))}")
        known = set()
        if current is not None:
            report = current.metrics or {}
            known = set(current.features) | {d.get("feature") for d in report.get("dropped_features") or []}
        unknown = [f for f in [*exclude, *confirm] if (known and f not in known) or not FEATURE_NAME.match(f)]
        if unknown:
            raise CommandError(f"not an in-market feature: {', '.join(unknown)} (the model page lists them)")
        with transaction.atomic():
            for names, decision in (
                (exclude, ColumnDecisionKind.EXCLUDED),
                (confirm, ColumnDecisionKind.CONFIRMED),
            ):
                for name in names:
                    flag = "--exclude" if decision == ColumnDecisionKind.EXCLUDED else "--confirm"
                    decisions.column_decision_set(
                        kind=ScoringModelKind.IN_MARKET, column=name, decision=decision, note=f"train {flag}"
                    )
