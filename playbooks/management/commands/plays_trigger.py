"""``manage.py plays_trigger``: start and stop playbook plays for the stage transitions not acted on yet
(what the beat task and every full rescore do), and print the counts."""

import json

from django.core.management.base import BaseCommand

from playbooks.triggers import plays_trigger


class Command(BaseCommand):
    help = "Start and stop playbook plays for the buying-stage transitions not acted on yet."

    def add_arguments(self, parser):
        parser.add_argument(
            "--replay-days",
            type=int,
            default=None,
            help="First go back to the transitions of the last N days (no entry starts anything twice).",
        )

    def handle(self, *args, replay_days, **options):
        self.stdout.write(json.dumps(plays_trigger(replay_days=replay_days), indent=2))
