"""``python manage.py export_demo_leads OUT.csv``: a CRM-style lead export from the demo world, to try
``train_leads`` on."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scoring.learned.leads import demo_leads_frame


class Command(BaseCommand):
    help = (
        "Write a lead export from the data in the database: one row per contact whose first activity is at "
        "least 90 days before the data's end, with its attributes, its account's firmographics, its custom "
        "fields, the type of its first activity and converted = its account opened an opportunity within "
        "90 days after that first activity. Try it with: train_leads OUT.csv --target converted "
        "--id-column lead_id"
    )

    def add_arguments(self, parser):
        parser.add_argument("out", help="the CSV file to write")
        parser.add_argument("--seed", type=int, default=0, help="draws lead ids, row order and the sample")
        parser.add_argument("--limit", type=int, help="at most this many leads (a random sample)")

    def handle(self, *args, **options):
        out = Path(options["out"])
        if not out.parent.exists():
            raise CommandError(f"{out.parent}: no such folder")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be positive")
        frame = demo_leads_frame(seed=options["seed"], limit=options["limit"])
        if frame.empty:
            raise CommandError(
                "no contact with activity old enough to know whether it converted: seed_demo first"
            )
        frame.to_csv(out, index=False)
        converted = int((frame["converted"] == "true").sum())
        self.stdout.write(f"{len(frame):,} leads ({converted:,} converted) written to {out}")
