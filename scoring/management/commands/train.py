"""``python manage.py train``: train the in-market model, backtest it, register the new version."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from scoring.ml.registry import RegistryError, model_train

from .backtest import parse_day, table


class Command(BaseCommand):
    help = (
        "Train a new in-market model version; it becomes champion only if its backtest beats the champion's."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="the last day training may know, YYYY-MM-DD (default: data end)")
        parser.add_argument("--horizon", type=int, default=90, help="days of the prediction window")
        parser.add_argument("--folds", type=int, default=3, help="backtest test snapshots")
        parser.add_argument("--margin", type=float, default=0.005, help="ROC AUC a challenger must gain")
        parser.add_argument("--json", action="store_true", help="print the registered version as JSON")

    def handle(self, *args, **options):
        as_of = parse_day(options["as_of"], "--as-of")
        quiet = options["verbosity"] == 0

        def progress(message: str) -> None:
            if not quiet:
                print(message, file=sys.stderr, flush=True)

        try:
            model = model_train(
                as_of=as_of,
                horizon_days=options["horizon"],
                margin=options["margin"],
                folds=options["folds"],
                progress=progress,
            )
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
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
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
        else:
            self.stdout.write(f"{model}: {model.reason}")
            self.stdout.write(table(model.metrics))
