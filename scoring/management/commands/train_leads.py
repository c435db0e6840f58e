"""``python manage.py train_leads FILE --target converted``: a lead-conversion model from a CRM export."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from scoring.learned.decisions import DecisionError
from scoring.learned.leads import LeadImportError, lead_conversion_train
from scoring.learned.registry import RegistryError
from scoring.management.commands.backtest import decision_arguments, table


class Command(BaseCommand):
    help = (
        "Train a lead-conversion model from a CSV export of leads (custom attributes and a converted flag): "
        "cross-validated XGBoost, logistic regression and their blend against plain XGBoost and naive Bayes, "
        "every column checked for leakage; registered as kind lead_conversion, champion only without "
        "unresolved leakage warnings (--exclude / --confirm the columns); as champion it scores the "
        "contacts whose e-mail is in the file."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV export (UTF-8, a header row)")
        parser.add_argument("--target", required=True, help="the converted flag's column (1/0, yes/no, …)")
        parser.add_argument("--id-column", help="the leads' id column (dropped from the features)")
        parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
        parser.add_argument("--margin", type=float, default=0.005, help="ROC AUC a challenger must gain")
        decision_arguments(parser, metavar="COLUMN", what="columns")
        parser.add_argument(
            "--outcome-date",
            metavar="COLUMN",
            help="the column with the date of the outcome: date columns later than it are flagged",
        )
        parser.add_argument("--json", action="store_true", help="print the whole report as JSON")

    def handle(self, *args, **options):
        quiet = options["verbosity"] == 0

        def progress(message: str) -> None:
            if not quiet:
                print(message, file=sys.stderr, flush=True)

        try:
            model, report = lead_conversion_train(
                path=options["file"],
                target=options["target"],
                id_column=options["id_column"],
                folds=options["folds"],
                margin=options["margin"],
                progress=progress,
                exclude=options["exclude"],
                confirm=options["confirm"],
                outcome_date=options["outcome_date"],
            )
        except (LeadImportError, RegistryError, DecisionError) as exc:
            raise CommandError(f"{exc} (nothing was written)") from exc
        summary = {
            "id": model.pk,
            "kind": model.kind,
            "version": model.version,
            "status": model.status,
            "reason": model.reason,
            "sha256": model.artefact_sha256,
            "report": report,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2, default=str))
            return
        self.stdout.write(f"{model}: {model.reason}")
        self.stdout.write(
            f"{report['rows']:,} leads, {report['positives']:,} converted; "
            f"{len(report['features'])} features from {len(report['columns_used']['numeric'])} numeric and "
            f"{len(report['columns_used']['categorical'])} categorical columns "
            f"(stratified {report['folds_count']}-fold cross-validation)"
        )
        self.stdout.write(table(report))
        for dropped in report["dropped"]:
            self.stdout.write(f"dropped {dropped['column']}: {dropped['reason']}")
        contacts = report["contacts"]
        by = contacts["email_column"] or "(no e-mail column)"
        note = f" — {contacts['note']}" if contacts.get("note") else ""
        self.stdout.write(
            f"contacts: {contacts['matched']:,} matched by {by}, {contacts['written']:,} written{note}"
        )
